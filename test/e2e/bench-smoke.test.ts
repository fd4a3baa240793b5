import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Keeps `npm run bench` working: runs `bench:smoke` (every scenario, a few
 * users, a few seconds) as its own process and checks it succeeded and
 * reported numbers. No timing is asserted: budgets live in the benchmark.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const SCENARIOS = ["pairs", "ramp", "fanout", "flood", "connect", "reconnect"];
const out = mkdtempSync(join(tmpdir(), "edgechat-bench-smoke-"));

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runSmoke(): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "./bench/resolve-ts.ts", "bench/run.ts", "--smoke", "--quiet", "--out", out], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", fail);
    child.once("exit", (code) => done({ code, stdout, stderr }));
  });
}

interface ResultFile {
  results: { scenario: string; rows: { metric: string; edgechat?: number; floor?: number }[]; checks: { name: string; ok: boolean }[] }[];
}

describe("bench:smoke", () => {
  it("runs every scenario against edgechat and the floor, passes its checks and writes numbers", async () => {
    const run = await runSmoke();
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);

    const json = readdirSync(out).filter((f) => f.startsWith("smoke-") && f.endsWith(".json"));
    expect(json).toHaveLength(1);
    expect(readdirSync(out).some((f) => f.endsWith(".html"))).toBe(true);
    const file = JSON.parse(readFileSync(join(out, json[0]!), "utf8")) as ResultFile;
    expect(file.results.map((r) => r.scenario)).toEqual(SCENARIOS);
    for (const result of file.results) {
      expect(result.checks.length, result.scenario).toBeGreaterThan(0);
      expect(result.checks.filter((c) => !c.ok), result.scenario).toEqual([]);
      // The first row of each scenario is a latency or a rate: a positive, finite number for
      // edgechat, and for the floor where the scenario runs one (flood measures edgechat alone).
      const first = result.rows[0]!;
      for (const value of result.scenario === "flood" ? [first.edgechat] : [first.edgechat, first.floor]) {
        expect(Number.isFinite(value) && value! > 0, `${result.scenario}: ${first.metric} = ${value}`).toBe(true);
      }
    }
  }, 90_000);
});
