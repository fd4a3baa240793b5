/**
 * `ramp`: the `pairs` load in steps of rising rate until the server no longer
 * keeps up. The saturation rate is the highest step where it delivered at
 * least 95% of the target rate within the step with p99 under 200 ms, every
 * message arrived and every delivered tick came back; the ramp stops at a
 * rate that fails twice in a row.
 */
import { perUnit, runTag, type Progress, type Scenario } from "../scenario";
import { round, summarise } from "../stats";
import type { Costs, TargetKind } from "../target";
import { PairsLoad, type StepResult } from "./pairs-load";
import { closeAll, connectPairs, withTarget } from "./pairs";

export interface RampParams {
  pairs: number;
  from: number;
  to: number;
  /** Each step's rate is the previous one times this. */
  factor: number;
  stepSeconds: number;
  textBytes: number;
}

const P99_LIMIT_MS = 200;
/** Runs of one rate before the ramp stops there. */
const STEP_ATTEMPTS = 2;

export function sustained(step: StepResult): boolean {
  return step.deliveredPerSec >= 0.95 * step.rate && summarise(step.latency.delivered).p99 < P99_LIMIT_MS && step.lost === 0 && step.ticked === step.acked;
}

export function ladder(params: Pick<RampParams, "from" | "to" | "factor">): number[] {
  const rates: number[] = [];
  for (let r = params.from; r <= params.to && rates.length < 50; r = Math.round((r * params.factor) / 10) * 10 || r + 10) rates.push(r);
  return rates;
}

interface Ramp {
  steps: StepResult[];
  saturation: StepResult | undefined;
  costs: Costs | undefined;
  delivered: number;
}

async function measure(kind: TargetKind, params: RampParams, from: number, progress: Progress): Promise<Ramp> {
  return withTarget(kind, async (target) => {
    const tag = runTag();
    const pairs = await connectPairs(target, params.pairs, tag, progress);
    const load = new PairsLoad(pairs, tag, params.textBytes);
    await load.run(pairs.length * 2, 1, { idleMs: 10_000, maxMs: 30_000 });
    await target.resetCosts();
    const steps: StepResult[] = [];
    for (const rate of ladder({ ...params, from })) {
      // A step that fails is run once more: one stall (a checkpoint, a
      // collection) is enough to fail a short step, and is not a saturation.
      let step: StepResult | undefined;
      for (let attempt = 1; attempt <= STEP_ATTEMPTS && !(step && sustained(step)); attempt++) {
        step = await load.run(rate, params.stepSeconds, { idleMs: 5_000, maxMs: 30_000 }, progress, `  ${kind} ramp `);
        steps.push(step);
        const p99 = summarise(step.latency.delivered).p99;
        progress.step(`  ${kind} ${rate}/s: delivered ${round(step.deliveredPerSec)}/s, p99 ${round(p99)} ms, lost ${step.lost}${sustained(step) ? "" : "  <- not sustained"}`);
      }
      if (!sustained(step!)) break;
    }
    const costs = await target.costs();
    await closeAll(pairs.flat());
    const saturation = steps.filter(sustained).at(-1);
    return { steps, saturation, costs, delivered: steps.reduce((n, s) => n + s.delivered, 0) };
  });
}

export const ramp: Scenario<RampParams> = {
  name: "ramp",
  summary: "the pairs load in rising steps until it is no longer sustained: the saturation rate",
  defaults: { pairs: 50, from: 100, to: 20_000, factor: 1.25, stepSeconds: 5, textBytes: 100 },
  smoke: { pairs: 2, from: 20, to: 30, factor: 1.5, stepSeconds: 1, textBytes: 100 },
  async run(params, progress) {
    const ours = await measure("edgechat", params, params.from, progress);
    // The floor starts where edgechat stopped keeping up: its own ramp from the bottom would only repeat those steps.
    const floor = await measure("floor", params, ours.saturation?.rate ?? params.from, progress);
    const top = (r: Ramp) => Math.max(0, ...r.steps.map((s) => s.deliveredPerSec));
    const sat = (r: Ramp) => r.saturation?.rate;
    const p99 = (r: Ramp) => (r.saturation ? summarise(r.saturation.latency.delivered).p99 : undefined);
    const capped = (r: Ramp) => r.steps.length > 0 && sustained(r.steps.at(-1)!);
    const notes = [
      `steps of ${params.stepSeconds} s from ${params.from} msgs/s (the floor from edgechat's saturation), x${params.factor} per step; sustained = delivered >= 95% of target, p99 < ${P99_LIMIT_MS} ms, nothing lost, every tick back; a step that is not is run once more, and the ramp stops at a rate that fails ${STEP_ATTEMPTS} times`,
      `edgechat steps: ${describe(ours)}`,
      `floor steps: ${describe(floor)}`,
    ];
    for (const [name, r] of [["edgechat", ours], ["floor", floor]] as const) {
      if (capped(r)) notes.push(`${name} kept up at the last step (${params.to} msgs/s cap): its saturation is at least that, or the generator's`);
    }
    return {
      scenario: "ramp",
      params: { ...params },
      rows: [
        { metric: "saturation (highest sustained step)", unit: "msgs/s", edgechat: sat(ours), floor: sat(floor) },
        { metric: "p99 send -> recipient at that step", unit: "ms", edgechat: p99(ours), floor: p99(floor) },
        { metric: "most delivered in one step", unit: "msgs/s", edgechat: top(ours), floor: top(floor) },
      ],
      distributions: [
        { name: "send -> recipient at the saturation step (ms)", samples: { edgechat: ours.saturation?.latency.delivered ?? [], floor: floor.saturation?.latency.delivered ?? [] } },
      ],
      costs: ours.costs && { per: "delivered message (whole ramp)", count: ours.delivered, totals: ours.costs, perUnit: perUnit(ours.costs, ours.delivered) },
      budgets: [{ name: "saturation, durable msgs/s with receipts", limit: ">= 1,500", measured: sat(ours), met: sat(ours) !== undefined && sat(ours)! >= 1500 }],
      checks: [
        { name: "the first step was sustained", ok: ours.saturation !== undefined, detail: describe(ours) },
        { name: "the floor sustained its first step", ok: floor.saturation !== undefined, detail: describe(floor) },
      ],
      notes,
    };
  },
};

function describe(r: Ramp): string {
  return r.steps.map((s) => `${s.rate}:${round(s.deliveredPerSec)}/s p99 ${round(summarise(s.latency.delivered).p99)}ms${sustained(s) ? "" : "!"}`).join(", ");
}
