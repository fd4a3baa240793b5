/**
 * `npm run bench -- [scenario...] [--smoke] [--param value...]`
 *
 * Runs the named scenarios (all when none is named) against the floor and
 * then against edgechat, prints a table per scenario, and writes JSON and an
 * HTML report to bench/results/. Exits 1 when a correctness check fails or a
 * scenario throws; budgets are reported, never enforced here.
 *
 *   npm run bench -- pairs --rate 2000
 *   npm run bench -- fanout --sizes 200
 *   npm run bench:smoke
 */
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { table, writeResults, type RunInfo } from "./report";
import { Progress, type Scenario, type ScenarioResult } from "./scenario";
import { connect } from "./scenarios/connect";
import { fanout } from "./scenarios/fanout";
import { flood } from "./scenarios/flood";
import { pairs } from "./scenarios/pairs";
import { ramp } from "./scenarios/ramp";
import { reconnect } from "./scenarios/reconnect";
import { BENCH_OVERRIDES, PROJECT_ROOT, serverOptions } from "./server";
import { stopAllTargets } from "./target";

const SCENARIOS: Scenario<object>[] = [pairs, ramp, fanout, flood, connect, reconnect] as Scenario<object>[];
/** The whole run stops by itself after this, whatever happens. */
const WATCHDOG_MS = { full: 30 * 60_000, smoke: 3 * 60_000 };

interface Cli {
  names: string[];
  smoke: boolean;
  quiet: boolean;
  profile: boolean;
  persistIn: string | undefined;
  /** `--var NAME=VALUE`: a worker variable for this run, over wrangler.toml and the bench's own. */
  vars: Record<string, string>;
  out: string;
  overrides: Record<string, string>;
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = { names: [], smoke: false, quiet: false, profile: false, persistIn: undefined, vars: {}, out: join(PROJECT_ROOT, "bench", "results"), overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--smoke") cli.smoke = true;
    else if (arg === "--quiet") cli.quiet = true;
    else if (arg === "--profile") cli.profile = true;
    else if (arg === "--out") cli.out = argv[++i] ?? cli.out;
    else if (arg === "--persist-in") cli.persistIn = argv[++i];
    else if (arg === "--var") {
      const [name, value] = (argv[++i] ?? "").split(/=(.*)/s, 2) as [string, string | undefined];
      if (!/^[A-Z][A-Z0-9_]*$/.test(name) || value === undefined) throw new Error("--var expects NAME=VALUE, e.g. --var DELIVERY_RECOVERY_MS=10000");
      cli.vars[name] = value;
    }
    else if (arg === "--help" || arg === "-h") usage(0);
    else if (arg.startsWith("--")) {
      const [key, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      cli.overrides[key] = inline ?? argv[++i] ?? "";
    } else cli.names.push(arg);
  }
  return cli;
}

function usage(code: number): never {
  const lines = SCENARIOS.map((s) => `  ${s.name.padEnd(10)} ${s.summary}\n             defaults ${JSON.stringify(s.defaults)}`);
  process.stdout.write(`usage: npm run bench -- [scenario...] [--smoke] [--quiet] [--profile] [--persist-in dir] [--var NAME=VALUE...] [--out dir] [--param value...]\n\n  --profile        count SQL calls and rows per statement (patched bundle; for finding costs)\n  --persist-in dir Durable Object storage under dir (default: the system temp dir)\n  --var NAME=VALUE a worker variable (wrangler.toml [vars]) for this run, e.g. DELIVERY_RECOVERY_MS=10000\n\n${lines.join("\n")}\n`);
  process.exit(code);
}

/** Applies `--name value` to the scenario's own parameters (numbers, or comma-separated lists). */
function paramsFor(scenario: Scenario<object>, cli: Cli): object {
  const params: Record<string, unknown> = { ...(cli.smoke ? scenario.smoke : scenario.defaults) };
  for (const [key, raw] of Object.entries(cli.overrides)) {
    if (!(key in params)) continue;
    const values = raw.split(",").map(Number);
    if (values.some((v) => !Number.isFinite(v))) throw new Error(`--${key} expects a number (or a comma-separated list)`);
    params[key] = Array.isArray(params[key]) ? values : values[0];
  }
  return params;
}

async function main(cli: Cli): Promise<number> {
  const known = new Set(SCENARIOS.map((s) => s.name));
  const unknown = cli.names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario: ${unknown.join(", ")}\n`);
    usage(2);
  }
  const chosen = cli.names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => cli.names.includes(s.name));
  const stray = Object.keys(cli.overrides).filter((key) => !chosen.some((s) => key in s.defaults));
  if (stray.length > 0) {
    process.stderr.write(`no chosen scenario has the parameter ${stray.map((k) => `--${k}`).join(", ")}\n`);
    usage(2);
  }
  const progress = new Progress(cli.quiet);
  serverOptions.profileSql = cli.profile;
  if (cli.persistIn) serverOptions.persistRoot = cli.persistIn;
  serverOptions.vars = cli.vars;
  const info: RunInfo = {
    command: `node bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    overrides: { ...BENCH_OVERRIDES, ...cli.vars },
    persistRoot: serverOptions.persistRoot,
  };
  const results: ScenarioResult[] = [];
  let failed = false;
  for (const scenario of chosen) {
    const params = paramsFor(scenario, cli);
    progress.step(`${scenario.name}: ${scenario.summary} ${JSON.stringify(params)}`);
    const started = performance.now();
    const loadBefore = loadavg()[0]!;
    try {
      const result = await scenario.run(params, progress);
      result.notes.push(`scenario took ${Math.round((performance.now() - started) / 1000)} s including setup`);
      // Other work on the machine skews every figure: a load far above what the run itself makes is worth knowing.
      result.notes.push(`1-minute load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after (${cpus().length} cores)`);
      results.push(result);
      process.stdout.write(`\n${table(result)}\n`);
      if (result.checks.some((c) => !c.ok)) failed = true;
    } catch (err) {
      failed = true;
      process.stderr.write(`\n${scenario.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await stopAllTargets();
    }
  }
  if (results.length > 0) {
    const name = cli.smoke ? "smoke" : chosen.length === 1 ? chosen[0]!.name : "all";
    const files = writeResults(cli.out, name, info, results);
    process.stdout.write(`\nresults: ${files.json}\nreport:  ${files.html}\n`);
  }
  return failed ? 1 : 0;
}

const cli = parseArgs(process.argv.slice(2));
const watchdog = setTimeout(
  () => {
    process.stderr.write("\nbench: watchdog expired, stopping\n");
    void stopAllTargets().finally(() => process.exit(3));
  },
  cli.smoke ? WATCHDOG_MS.smoke : WATCHDOG_MS.full,
);
watchdog.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void stopAllTargets().finally(() => process.exit(130)));
}

main(cli).then(
  (code) => {
    process.exitCode = code;
    // Sockets or timers left by a failed scenario must not keep the process alive.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  async (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopAllTargets();
    process.exit(1);
  },
);
