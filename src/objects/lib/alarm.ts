import { costs } from "./metrics";

/**
 * Keeps one alarm at the earliest time queued work is due: moves it earlier
 * when needed and never later (a later due time is picked up when the
 * current alarm runs and re-arms).
 */
export async function armAlarmFor(storage: DurableObjectStorage, due: number | undefined): Promise<void> {
  if (due === undefined) return;
  const current = await storage.getAlarm();
  if (current === null || current > due) {
    costs.alarmsSet++;
    await storage.setAlarm(due);
  }
}

/**
 * The same rule for an object that wants no storage round trip per call: it
 * remembers the time it set (the object is the alarm's only writer), so the
 * common case, an alarm already due soon enough, costs nothing. The object
 * calls `fired()` when its alarm handler starts: the runtime has used it up.
 *
 * `atLatest` writes synchronously, in the same commit as the caller's own
 * writes: work stored in that commit is never without its alarm. Until the
 * stored time has been read back after a wake it may move an earlier alarm
 * later (to `due`), which delays that work, never loses it.
 */
export class AlarmClock {
  /** undefined: not read back yet since the object started. */
  #at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {
    void storage.getAlarm().then((at) => {
      if (this.#at === undefined) this.#at = at;
    });
  }

  /** Makes sure the alarm fires no later than `due`. */
  atLatest(due: number | undefined): Promise<void> {
    if (due === undefined) return Promise.resolve();
    if (this.#at !== undefined && this.#at !== null && this.#at <= due) return Promise.resolve();
    this.#at = due;
    costs.alarmsSet++;
    return this.storage.setAlarm(due);
  }

  /**
   * Makes sure the alarm fires within `windowMs` of `now`. When it has to be
   * set, it goes at a random point of the window's second half: objects that
   * all became busy at once (a deploy, a benchmark's start) would otherwise
   * keep waking together, every window, and stall the others' work.
   */
  within(now: number, windowMs: number): Promise<void> {
    if (this.#at !== undefined && this.#at !== null && this.#at <= now + windowMs) return Promise.resolve();
    return this.atLatest(now + Math.round(windowMs * (0.5 + Math.random() / 2)));
  }

  fired(): void {
    this.#at = null;
  }
}
