/**
 * When a user's object tells the presence shard about the user's activity.
 *
 * The shard shows a user online until `onlineMs` after the newest activity it
 * was told of. Telling it on every frame would cost a call and a write per
 * frame, so reports are throttled to one per `writeIntervalMs`; but activity
 * inside the interval must still reach the shard before the last reported
 * one lapses, or an active user flickers offline (a user acting every 8 s,
 * reported at most every 10 s, lapsed 15 s after a report). So every activity
 * is carried by a report, at the latest when the previous one is about to
 * lapse; the throttle gives way only for that.
 */
export interface ReportTiming {
  /** At most one report per interval, unless the last one is about to lapse. */
  writeIntervalMs: number;
  /** How long the shard keeps a user online after a reported activity. */
  onlineMs: number;
  /** A report due now still waits this long (see REPORT_DELAY_MS in user-presence.ts). */
  delayMs: number;
  /** A report that must beat a lapse is sent this long before it (the call's own time). */
  marginMs: number;
}

export interface LastReport {
  /** When it was sent. */
  sentAt: number;
  /** The activity time it carried: the shard keeps the user online until this + onlineMs. */
  activeAt: number;
}

/**
 * When to send the report that will carry an activity seen at `now`, given
 * the last report sent (none since the object woke, or since the user went
 * offline: `undefined`).
 */
export function nextReportAt(now: number, last: LastReport | undefined, timing: ReportTiming): number {
  const lapseAt = last ? last.activeAt + timing.onlineMs - timing.marginMs : Number.POSITIVE_INFINITY;
  const throttledUntil = last ? last.sentAt + timing.writeIntervalMs : Number.NEGATIVE_INFINITY;
  const due = Math.max(now + timing.delayMs, throttledUntil);
  return Math.max(now, Math.min(due, lapseAt));
}

export interface ReporterClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: ReporterClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Holds the one scheduled report of a user: every activity either finds one
 * scheduled (which will carry it, as it reads the newest activity when it
 * fires) or schedules one at `nextReportAt`.
 *
 * The timer lives in memory. A pending timer keeps the object from
 * hibernating, so it is lost only when the object is evicted or restarted;
 * then the user shows offline from the last report's lapse until their next
 * activity, which reports at once (the new object has no last report).
 */
export class ActivityReporter {
  #lastActivity = 0;
  #last: LastReport | undefined;
  #timer: unknown;
  #scheduled = false;

  constructor(
    private readonly timing: ReportTiming,
    private readonly send: (activeAt: number) => void,
    private readonly clock: ReporterClock = REAL_CLOCK,
  ) {}

  /** The newest activity since the user was last offline (0: none). */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  activity(at: number): void {
    this.#lastActivity = Math.max(this.#lastActivity, at);
    if (this.#scheduled) return;
    const now = this.clock.now();
    this.#scheduled = true;
    this.#timer = this.clock.setTimeout(() => this.#fire(), nextReportAt(now, this.#last, this.timing) - now);
  }

  /** The user went offline: nothing more is reported, and the next activity starts afresh. */
  reset(): void {
    if (this.#scheduled) this.clock.clearTimeout(this.#timer);
    this.#scheduled = false;
    this.#last = undefined;
    this.#lastActivity = 0;
  }

  #fire(): void {
    this.#scheduled = false;
    const activeAt = this.#lastActivity;
    this.#last = { sentAt: this.clock.now(), activeAt };
    this.send(activeAt);
  }
}
