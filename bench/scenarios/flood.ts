/**
 * `flood`: one hostile user against everyone else. P pairs of bystanders
 * exchange one-to-one messages at a steady rate while one user sends
 * `floodRate` frames a second from one socket, reconnecting whenever it is
 * closed, as an attacker would. Phases, each `seconds` long on one server:
 * no flood, a flood of `msg.send` (new messages, so the send quota refuses
 * them), a flood of junk frames (an unknown type), and no flood again.
 * Reported: the bystanders' latency in each phase, and what became of the
 * flood (frames the server answered, closes with 1008, refused reconnects).
 *
 * The server keeps the wrangler.toml limits the other scenarios lift (frame
 * budget and send quota), unless `--var` sets them.
 */
import { DEFAULT_LIMITS } from "../../src/protocol";
import type { BenchClient } from "../client";
import { runTag, sleep, type Progress, type Scenario, type ScenarioResult } from "../scenario";
import { serverOptions } from "../server";
import { summarise } from "../stats";
import { startTarget, type Account, type Target } from "../target";
import { PairsLoad, type StepResult } from "./pairs-load";
import { closeAll, connectPairs } from "./pairs";

export interface FloodParams {
  pairs: number;
  /** Bystanders' messages per second, all pairs together. */
  rate: number;
  seconds: number;
  /** The flooder's frames per second. */
  floodRate: number;
  textBytes: number;
}

type FloodKind = "send" | "junk";

interface FloodStats {
  framesSent: number;
  /** Frames the server answered (an ack or a typed error): work it did. */
  answered: number;
  closedForFlood: number;
  reconnectsRefused: number;
  reconnectsAccepted: number;
}

/** The wrangler.toml limits, unless the run's `--var` names them. */
function realLimits(): Record<string, string> {
  const limits: Record<string, string> = {
    FRAME_RATE_PER_SEC: String(DEFAULT_LIMITS.frameRatePerSec),
    FRAME_BURST: String(DEFAULT_LIMITS.frameBurst),
    SEND_RATE_PER_SEC: String(DEFAULT_LIMITS.sendRatePerSec),
    SEND_BURST: String(DEFAULT_LIMITS.sendBurst),
  };
  for (const name of Object.keys(serverOptions.vars)) delete limits[name];
  return limits;
}

/**
 * One hostile user: sends `rate` frames a second in 10 ms batches; when the
 * server closes the socket it tries again every 10 ms.
 */
class Flooder {
  readonly stats: FloodStats = { framesSent: 0, answered: 0, closedForFlood: 0, reconnectsRefused: 0, reconnectsAccepted: 0 };
  readonly #target: Target;
  readonly #account: Account;
  readonly #kind: FloodKind;
  readonly #victim: string;
  #stopped = false;
  #client: BenchClient | undefined;
  #n = 0;

  constructor(target: Target, account: Account, kind: FloodKind, victim: string) {
    this.#target = target;
    this.#account = account;
    this.#kind = kind;
    this.#victim = victim;
  }

  async run(rate: number, seconds: number): Promise<void> {
    const end = performance.now() + seconds * 1000;
    const perTick = Math.max(1, Math.round(rate / 100));
    while (!this.#stopped && performance.now() < end) {
      if (!this.#client?.open) await this.#reconnect();
      const client = this.#client;
      if (client?.open) for (let i = 0; i < perTick; i++) this.#sendOne(client);
      await sleep(10);
    }
    await this.#client?.close();
  }

  stop(): void {
    this.#stopped = true;
  }

  async #reconnect(): Promise<void> {
    const previous = this.#client;
    this.#client = undefined;
    if (previous) {
      await previous.closed;
      if (previous.closeCode === 1008) this.stats.closedForFlood++;
    }
    try {
      const client = await this.#target.connect(this.#account, { timeoutMs: 5_000 });
      client.onFrame = (frame) => {
        if (frame.type === "error" || frame.type === "msg.sent") this.stats.answered++;
      };
      this.#client = client;
      this.stats.reconnectsAccepted++;
    } catch {
      this.stats.reconnectsRefused++;
    }
  }

  #sendOne(client: BenchClient): void {
    this.stats.framesSent++;
    const n = this.#n++;
    if (this.#kind === "junk") client.sendRaw(`{"type":"flood.junk","ref":"j${n}"}`);
    else client.send({ type: "msg.send", ref: `f${n}`, clientId: `flood-${n}`, to: this.#victim, text: "flood" });
  }
}

interface Phase {
  name: string;
  step: StepResult;
  flood?: FloodStats;
}

export const flood: Scenario<FloodParams> = {
  name: "flood",
  summary: "bystanders' one-to-one latency while one user floods 1,000 frames/s (sends, then junk)",
  defaults: { pairs: 20, rate: 200, seconds: 10, floodRate: 1000, textBytes: 100 },
  smoke: { pairs: 2, rate: 20, seconds: 2, floodRate: 300, textBytes: 100 },
  async run(params, progress) {
    const target = await startTarget("edgechat", { vars: realLimits() });
    try {
      return await measure(target, params, progress);
    } finally {
      await target.stop();
    }
  },
};

async function measure(target: Target, params: FloodParams, progress: Progress): Promise<ScenarioResult> {
  const tag = runTag();
  const pairs = await connectPairs(target, params.pairs, tag, progress);
  const hostile = await target.accounts([`fl${tag}_send`, `fl${tag}_junk`, `fl${tag}_victim`]);
  const load = new PairsLoad(pairs, tag, params.textBytes);
  const warm = await load.run(pairs.length * 2, 1, { idleMs: 10_000, maxMs: 30_000 });
  if (warm.lost > 0) throw new Error(`warm-up lost ${warm.lost} messages`);
  const drain = { idleMs: 10_000, maxMs: 60_000 };
  const phases: Phase[] = [];
  const quiet = async (name: string) => {
    progress.step(`  ${name}: ${params.rate} msgs/s for ${params.seconds} s`);
    phases.push({ name, step: await load.run(params.rate, params.seconds, drain, progress, `  ${name} `) });
  };
  const flooded = async (name: string, kind: FloodKind, account: Account) => {
    progress.step(`  ${name}: ${params.rate} msgs/s for ${params.seconds} s, one user sending ${params.floodRate} frames/s`);
    const flooder = new Flooder(target, account, kind, hostile[2]!.user);
    const flooding = flooder.run(params.floodRate, params.seconds);
    const step = await load.run(params.rate, params.seconds, drain, progress, `  ${name} `);
    flooder.stop();
    await flooding;
    phases.push({ name, step, flood: flooder.stats });
  };
  await quiet("no flood");
  await flooded("msg.send flood", "send", hostile[0]!);
  await flooded("junk flood", "junk", hostile[1]!);
  await quiet("no flood, again");
  await closeAll(pairs.flat());
  return floodResult(params, phases);
}

function floodResult(params: FloodParams, phases: Phase[]): ScenarioResult {
  const quiet = phases.filter((p) => !p.flood);
  const baselineP95 = Math.max(...quiet.map((p) => summarise(p.step.latency.delivered).p95));
  const rows = phases.flatMap(({ name, step, flood }) => {
    const lat = summarise(step.latency.delivered);
    const out = [
      { metric: `${name}: bystanders send -> recipient p50`, unit: "ms", edgechat: lat.p50 },
      { metric: `${name}: bystanders p95`, unit: "ms", edgechat: lat.p95 },
      { metric: `${name}: bystanders p99`, unit: "ms", edgechat: lat.p99 },
      { metric: `${name}: bystanders delivered`, unit: "msgs/s", edgechat: step.deliveredPerSec },
    ];
    if (flood) {
      out.push(
        { metric: `${name}: flood frames sent`, unit: "frames", edgechat: flood.framesSent },
        { metric: `${name}: flood frames the server answered`, unit: "frames", edgechat: flood.answered },
        { metric: `${name}: closed with 1008`, unit: "sockets", edgechat: flood.closedForFlood },
        { metric: `${name}: connects refused (429)`, unit: "upgrades", edgechat: flood.reconnectsRefused },
        { metric: `${name}: connects accepted`, unit: "upgrades", edgechat: flood.reconnectsAccepted },
      );
    }
    return out;
  });
  const budgets = phases
    .filter((p) => p.flood)
    .map(({ name, step }) => {
      const p95 = summarise(step.latency.delivered).p95;
      return { name: `bystanders' p95 during the ${name}`, limit: `<= 2x without it (${baselineP95.toFixed(1)} ms)`, measured: p95, met: p95 <= 2 * baselineP95 };
    });
  return {
    scenario: "flood",
    params: { ...params },
    rows,
    distributions: phases.map(({ name, step }) => ({ name: `${name}: send -> recipient (ms)`, samples: { edgechat: step.latency.delivered } })),
    budgets,
    checks: [
      ...phases.map(({ name, step }) => ({ name: `${name}: every bystander message delivered`, ok: step.lost === 0 && step.sent > 0, detail: `${step.delivered}/${step.sent}` })),
      ...phases.map(({ name, step }) => ({ name: `${name}: bystanders refused nothing`, ok: Object.keys(step.errors).length === 0, detail: JSON.stringify(step.errors) })),
      ...phases
        .filter((p) => p.flood)
        .map(({ name, flood }) => ({ name: `${name}: the flooder was cut off`, ok: flood!.closedForFlood > 0 && flood!.answered < flood!.framesSent, detail: `${flood!.answered} of ${flood!.framesSent} frames answered, ${flood!.closedForFlood} closes` })),
    ],
    notes: [`the baseline is the higher p95 of the two phases without a flood; frame budget and send quota as in wrangler.toml unless --var set them`],
  };
}
