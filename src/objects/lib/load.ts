/**
 * Load shedding by priority (the talk's festival-night advice): when an
 * object is overloaded it keeps messages flowing and gives up the cheapest
 * things to lose first.
 */
export const Priority = {
  /** Messages and their `sent` acks: never shed. */
  Message: 0,
  DeliveryReceipt: 1,
  ReadReceipt: 2,
  /** Presence and typing: ephemeral, dropped first. */
  Ephemeral: 3,
} as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export type LoadLevel = "normal" | "busy" | "overloaded";

export interface LoadThresholds {
  /** In-flight work at which presence and typing are dropped. */
  busyAt: number;
  /** In-flight work at which receipts are deferred to the retry queue too. */
  overloadedAt: number;
}

export type ShedDecision = "run" | "defer" | "drop";

/** What to do with work of this priority at this load. */
export function shedDecision(priority: Priority, level: LoadLevel): ShedDecision {
  if (priority === Priority.Message || level === "normal") return "run";
  if (priority === Priority.Ephemeral) return "drop";
  return level === "overloaded" ? "defer" : "run";
}

/**
 * Counts work in flight in one object (frames being handled, calls to other
 * objects awaiting an answer), plus a recent "overloaded" answer from the
 * platform, and turns that into a load level.
 */
export class LoadMonitor {
  #inFlight = 0;
  #overloadedUntil = 0;

  constructor(readonly thresholds: LoadThresholds) {}

  begin(): void {
    this.#inFlight++;
  }

  end(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The platform said an object is overloaded: treat ourselves as overloaded for a moment. */
  platformOverloaded(now: number, forMs = 1_000): void {
    this.#overloadedUntil = Math.max(this.#overloadedUntil, now + forMs);
  }

  level(now: number): LoadLevel {
    if (this.#inFlight >= this.thresholds.overloadedAt || now < this.#overloadedUntil) return "overloaded";
    if (this.#inFlight >= this.thresholds.busyAt) return "busy";
    return "normal";
  }
}

/** Durable Object errors say whether the target was overloaded. */
export function isOverloaded(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { overloaded?: unknown }).overloaded === true;
}

/** Errors that came back from another object (as opposed to a bug here). */
export function isRemote(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { remote?: unknown }).remote === true;
}

/** The platform marks transient failures (a reset, a network blip) as retryable. */
export function isRetryable(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === true;
}
