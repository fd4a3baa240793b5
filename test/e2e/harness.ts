import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unstable_startWorker } from "wrangler";

// Without wrangler's local tracing collector, as `npm start` runs (scripts/start.mjs): it costs
// more CPU per call than the worker itself, which a shared 2-core CI machine cannot spare.
process.env.X_LOCAL_OBSERVABILITY ??= "false";

/** Every test signs up from the same loopback address: lift the per-address login throttle. */
const TEST_VARS: Record<string, string> = { LOGIN_RATE_PER_MIN: "100000" };

export interface RunningWorker {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Where its Durable Object storage lives (survives stop()). */
  persistDir: string;
  stop(): Promise<void>;
}

/**
 * Starts the real worker (wrangler's dev runtime: workerd with SQLite-backed
 * Durable Objects) on a free loopback port. Pass the same persistDir again to
 * restart it on the same state.
 */
export async function startWorker(options: { persistDir?: string; vars?: Record<string, string> } = {}): Promise<RunningWorker> {
  const persistDir = options.persistDir ?? mkdtempSync(join(tmpdir(), "edgechat-e2e-"));
  const worker = await unstable_startWorker({
    config: "wrangler.toml",
    bindings: Object.fromEntries(Object.entries({ ...TEST_VARS, ...options.vars }).map(([k, v]) => [k, { type: "plain_text", value: v }])),
    dev: {
      server: { hostname: "127.0.0.1", port: 0 },
      inspector: false,
      persist: persistDir,
      logLevel: "none",
      // A test run must not rebuild and reload the worker (dropping every
      // socket) because someone saved a file under src/ meanwhile.
      watch: false,
    },
  });
  await worker.ready;
  const url = (await worker.url).toString().replace(/\/$/, "");
  return { url, persistDir, stop: () => worker.dispose() };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
