/**
 * Starts the worker the way production runs it: the bundle `wrangler deploy`
 * would upload, served by one workerd process through Miniflare, with
 * SQLite-backed Durable Objects persisted in a temp dir. Not `wrangler dev`,
 * whose proxy adds a second workerd process and memory per socket.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";

export const PROJECT_ROOT = resolve(import.meta.dirname, "..");
/** Inside the project: Miniflare wants the script under its modules root. */
const BUNDLE_DIR = join(PROJECT_ROOT, ".wrangler", "bench-bundle");

/**
 * What the benchmark changes from wrangler.toml, and why. Every run prints
 * and records these, so a figure is never read without them.
 */
export const BENCH_OVERRIDES: Record<string, string> = {
  ENVIRONMENT: "development",
  BENCH_METRICS: "1",
  // Every simulated user signs up from one loopback address.
  LOGIN_RATE_PER_MIN: "1000000",
  // The per-user flood guard (20/s) would cap the ramp before the server does.
  SEND_RATE_PER_SEC: "100000",
  // This lifts the per-socket frame budget too (never below twice the send
  // quota), which the ramp's senders would pass; `flood` sets both back.
  SEND_BURST: "100000",
};

export interface BenchServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The workerd process serving it, for its memory. */
  pid: number | undefined;
  /** HS256 key the server signs tokens with (random per run). */
  tokenSecret: string;
  vars: Record<string, string>;
  stop(): Promise<void>;
}

/** Bundles src/ offline, exactly as `wrangler deploy` would, into .wrangler/bench-bundle. */
export function buildBundle(): string {
  const wrangler = join(PROJECT_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", BUNDLE_DIR], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${result.stderr || result.stdout}`);
  return join(BUNDLE_DIR, "index.js");
}

/** The statement-level counter added by `--profile` (a text patch of the bundle, not of src/). */
const PROFILE_ANCHOR = "    costs.rowsRead += cursor.rowsRead;\n";
const PROFILE_PATCH = `
    {
      const key = strings.join("?").replace(/\\s+/g, " ").trim().slice(0, 160);
      const profile = typeof costs.sql === "object" ? costs.sql : (costs.sql = {});
      const entry = (profile[key] ??= { calls: 0, rowsRead: 0, rowsWritten: 0 });
      entry.calls++;
      entry.rowsRead += cursor.rowsRead;
      entry.rowsWritten += cursor.rowsWritten;
    }
`;

/**
 * A copy of the bundle whose SQL helper also counts calls and rows per
 * statement, reported by /api/debug/metrics as `sql`. For finding what
 * dominates the cost; figures in docs come from the unpatched bundle.
 */
function profiledBundle(scriptPath: string): string {
  const code = readFileSync(scriptPath, "utf8");
  if (!code.includes(PROFILE_ANCHOR)) throw new Error("--profile: the SQL helper in the bundle changed; update PROFILE_ANCHOR in bench/server.ts");
  const out = join(BUNDLE_DIR, "index.profile.js");
  writeFileSync(out, code.replace(PROFILE_ANCHOR, PROFILE_ANCHOR + PROFILE_PATCH));
  return out;
}

let bundled: string | undefined;
/**
 * Set from the command line: `--profile` serves the statement-counting
 * bundle; `--persist-in DIR` keeps Durable Object storage under DIR instead
 * of the system temp dir (e.g. /dev/shm, to see what fsync costs); `--var
 * NAME=VALUE` sets a worker variable (after the bench's own overrides).
 */
export const serverOptions: { profileSql: boolean; persistRoot: string; vars: Record<string, string> } = { profileSql: false, persistRoot: tmpdir(), vars: {} };

/** Starts a fresh server (empty state); the bundle is built once per process. */
export async function startServer(options: { vars?: Record<string, string> } = {}): Promise<BenchServer> {
  bundled ??= buildBundle();
  const scriptPath = serverOptions.profileSql ? profiledBundle(bundled) : bundled;
  const config = unstable_readConfig({ config: join(PROJECT_ROOT, "wrangler.toml") });
  const migrations = config.migrations as { new_sqlite_classes?: string[] }[];
  const bindings = config.durable_objects.bindings as { name: string; class_name: string }[];
  const sqliteClasses = new Set(migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  const durableObjects = Object.fromEntries(bindings.map((b) => [b.name, { className: b.class_name, useSQLite: sqliteClasses.has(b.class_name) }]));
  const tokenSecret = randomBytes(32).toString("hex");
  const fromToml = Object.fromEntries(Object.entries(config.vars).map(([k, v]) => [k, String(v)]));
  const vars = { ...fromToml, ...BENCH_OVERRIDES, ...serverOptions.vars, ...options.vars };
  const persistDir = mkdtempSync(join(serverOptions.persistRoot, "edgechat-bench-"));
  const before = new Set(workerdChildren());

  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: PROJECT_ROOT,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    durableObjects,
    durableObjectsPersist: persistDir,
    bindings: { ...vars, TOKEN_SECRET: tokenSecret },
    host: "127.0.0.1",
    port: 0,
    verbose: false,
  });
  const ready = await mf.ready;
  const pid = workerdChildren().find((p) => !before.has(p));
  return {
    url: ready.origin,
    pid,
    tokenSecret,
    vars,
    async stop() {
      await mf.dispose();
      rmSync(persistDir, { recursive: true, force: true });
    },
  };
}

/** Resident memory of a process in bytes (VmRSS in /proc), or undefined off Linux. */
export function residentBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)\s+kB/m);
    return line ? Number(line[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (sockets, SQLite files...), or undefined off Linux. */
export function openFiles(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** workerd processes started by this Node process. */
function workerdChildren(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may contain spaces, so split after the last ")".
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm.startsWith("workerd") && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // the process exited meanwhile
    }
  }
  return pids;
}
