/**
 * `pairs`: P pairs exchanging one-to-one messages open-loop at a target total
 * rate. Latency send -> recipient, acknowledged and delivered msgs/s, time to
 * the delivered tick at the sender, and lost messages.
 */
import { mapLimit, type BenchClient } from "../client";
import { perUnit, runTag, type Progress, type Scenario, type ScenarioResult } from "../scenario";
import { summarise } from "../stats";
import { startTarget, type Costs, type Target, type TargetKind } from "../target";
import { PairsLoad, type StepResult } from "./pairs-load";

export interface PairsParams {
  pairs: number;
  /** Messages per second, all pairs together. */
  rate: number;
  seconds: number;
  textBytes: number;
}

/** Starts a target, runs `fn`, and always stops the target (and its process). */
export async function withTarget<T>(kind: TargetKind, fn: (target: Target) => Promise<T>): Promise<T> {
  const target = await startTarget(kind);
  try {
    return await fn(target);
  } finally {
    await target.stop();
  }
}

/** Signs up 2P users and connects each once; clients acknowledge delivery like an app. */
export async function connectPairs(target: Target, count: number, tag: string, progress: Progress): Promise<[BenchClient, BenchClient][]> {
  progress.step(`  ${target.kind}: signing up ${count * 2} users`);
  const accounts = await target.accounts(Array.from({ length: count * 2 }, (_, i) => `p${tag}_${i}`));
  const clients = await mapLimit(accounts, 32, (account) => target.connect(account, { autoDelivered: true }));
  return Array.from({ length: count }, (_, i) => [clients[2 * i]!, clients[2 * i + 1]!]);
}

export async function closeAll(clients: BenchClient[]): Promise<void> {
  await mapLimit(clients, 256, (c) => c.close());
}

interface Measured {
  step: StepResult;
  costs: Costs | undefined;
}

async function measure(kind: TargetKind, params: PairsParams, progress: Progress): Promise<Measured> {
  return withTarget(kind, async (target) => {
    const tag = runTag();
    const pairs = await connectPairs(target, params.pairs, tag, progress);
    const load = new PairsLoad(pairs, tag, params.textBytes);
    // One message each way per pair first: a new chat looks the recipient's account up once.
    const warm = await load.run(pairs.length * 2, 1, { idleMs: 10_000, maxMs: 30_000 });
    if (warm.lost > 0) throw new Error(`${kind}: warm-up lost ${warm.lost} messages`);
    await target.resetCosts();
    progress.step(`  ${kind}: ${params.rate} msgs/s for ${params.seconds} s`);
    const step = await load.run(params.rate, params.seconds, { idleMs: 10_000, maxMs: 120_000 }, progress, `  ${kind} `);
    const costs = await target.costs();
    await closeAll(pairs.flat());
    return { step, costs };
  });
}

export const pairs: Scenario<PairsParams> = {
  name: "pairs",
  summary: "P pairs, open-loop one-to-one messages at a target rate, with delivery receipts",
  defaults: { pairs: 50, rate: 1000, seconds: 15, textBytes: 100 },
  smoke: { pairs: 3, rate: 30, seconds: 2, textBytes: 100 },
  async run(params, progress) {
    const floor = await measure("floor", params, progress);
    const ours = await measure("edgechat", params, progress);
    return pairsResult("pairs", params, ours, floor);
  },
};

export function pairsResult(name: string, params: PairsParams, ours: Measured, floor: Measured): ScenarioResult {
  const o = ours.step;
  const f = floor.step;
  const lat = (s: StepResult) => summarise(s.latency.delivered);
  const tick = (s: StepResult) => summarise(s.latency.ticked);
  const ack = (s: StepResult) => summarise(s.latency.acked);
  const row = (metric: string, unit: string, pick: (s: StepResult) => number) => ({ metric, unit, edgechat: pick(o), floor: pick(f) });
  const p99 = lat(o).p99;
  return {
    scenario: name,
    params: { ...params },
    rows: [
      row("send -> recipient p50", "ms", (s) => lat(s).p50),
      row("send -> recipient p95", "ms", (s) => lat(s).p95),
      row("send -> recipient p99", "ms", (s) => lat(s).p99),
      row("send -> recipient max", "ms", (s) => lat(s).max),
      row("send -> msg.sent (durable ack) p50", "ms", (s) => ack(s).p50),
      row("send -> msg.sent p99", "ms", (s) => ack(s).p99),
      row("send -> delivered tick p50", "ms", (s) => tick(s).p50),
      row("send -> delivered tick p99", "ms", (s) => tick(s).p99),
      row("acknowledged", "msgs/s", (s) => s.ackedPerSec),
      row("delivered", "msgs/s", (s) => s.deliveredPerSec),
      row("sent", "msgs", (s) => s.sent),
      row("lost (not delivered after the drain)", "msgs", (s) => s.lost),
      row("drain: last delivery after the window", "ms", (s) => s.drainMs),
      row("ticks missing", "msgs", (s) => s.acked - s.ticked),
      row("generator lag max", "ms", (s) => s.generatorLagMax),
    ],
    distributions: [
      { name: "send -> recipient (ms)", samples: { edgechat: o.latency.delivered, floor: f.latency.delivered } },
      { name: "send -> delivered tick (ms)", samples: { edgechat: o.latency.ticked, floor: f.latency.ticked } },
    ],
    costs: ours.costs && { per: "delivered message", count: o.delivered, totals: ours.costs, perUnit: perUnit(ours.costs, o.delivered) },
    budgets:
      params.rate >= 1000
        ? [
            { name: "p50 send -> recipient at 1,000 msgs/s", limit: "<= 5 ms", measured: lat(o).p50, met: lat(o).p50 <= 5 },
            { name: "p99 send -> recipient at 1,000 msgs/s", limit: "<= 30 ms", measured: p99, met: p99 <= 30 },
            { name: "lost messages", limit: "0", measured: o.lost, met: o.lost === 0 },
          ]
        : [],
    checks: [
      { name: "every message delivered", ok: o.lost === 0 && o.sent > 0, detail: `${o.delivered}/${o.sent} delivered` },
      { name: "every message acknowledged", ok: o.acked === o.sent, detail: `${o.acked}/${o.sent} acked; errors ${JSON.stringify(o.errors)}` },
      { name: "every delivered tick returned", ok: o.ticked === o.acked, detail: `${o.ticked}/${o.acked} ticked` },
      { name: "floor relayed every message", ok: f.lost === 0 && f.sent > 0, detail: `${f.delivered}/${f.sent}` },
    ],
    notes: [],
  };
}
