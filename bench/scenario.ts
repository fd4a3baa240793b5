/**
 * What every scenario shares: its result shape, the progress line, and the
 * bounded waits every loop uses (each ends by count and by time).
 */
import type { Costs, TargetKind } from "./target";

/** One line of the final table: our figure, the floor's, and the ratio. */
export interface Row {
  metric: string;
  unit: string;
  edgechat?: number;
  floor?: number;
}

/** Samples for the report's latency CDF. */
export interface Distribution {
  name: string;
  samples: Partial<Record<TargetKind, number[]>>;
}

/** A budget line from issue 6: reported, never an exit code. */
export interface Budget {
  name: string;
  limit: string;
  measured: number | undefined;
  met: boolean | undefined;
}

export interface ScenarioResult {
  scenario: string;
  params: Record<string, unknown>;
  rows: Row[];
  distributions: Distribution[];
  /** Counters over the measured phase, and the same per delivered message. */
  costs?: { per: string; count: number; totals: Costs; perUnit: Record<string, number> };
  budgets: Budget[];
  /** Correctness: a failed check fails the run (exit code 1). */
  checks: { name: string; ok: boolean; detail: string }[];
  notes: string[];
}

export interface Scenario<P extends object = Record<string, number>> {
  name: string;
  summary: string;
  defaults: P;
  /** A tiny run that still exercises every path, for `bench:smoke`. */
  smoke: P;
  run(params: P, progress: Progress): Promise<ScenarioResult>;
}

/** One status line, rewritten in place on a terminal and throttled otherwise. */
export class Progress {
  #last = 0;
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #quiet: boolean;

  constructor(quiet = false) {
    this.#quiet = quiet;
  }

  update(text: string): void {
    if (this.#quiet) return;
    const now = Date.now();
    if (this.#tty) {
      if (now - this.#last < 200) return;
      process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    } else {
      if (now - this.#last < 2_000) return;
      process.stderr.write(`${text}\n`);
    }
    this.#last = now;
  }

  /** A phase change: always shown, on its own line. */
  step(text: string): void {
    if (this.#quiet) return;
    process.stderr.write(`${this.#tty ? "\r\x1b[2K" : ""}${text}\n`);
    this.#last = 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `done` every few milliseconds until it holds or `timeoutMs` passes.
 * Returns whether it held. Used where the event is "a count reached N across
 * many sockets", which no single frame signals.
 */
export async function until(done: () => boolean, timeoutMs: number, onTick?: () => void, intervalMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    onTick?.();
    await sleep(intervalMs);
  }
  return true;
}

/** Cost counters divided by `count` (messages delivered, members reached...). */
export function perUnit(totals: Costs, count: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(totals)) if (typeof value === "number") out[key] = count > 0 ? value / count : Number.NaN;
  return out;
}

/** A run-unique prefix for usernames and client ids (usernames are [a-z0-9_], at most 32). */
export function runTag(): string {
  return Math.random().toString(36).slice(2, 8);
}
