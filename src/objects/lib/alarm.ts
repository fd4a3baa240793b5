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
 */
export class AlarmClock {
  /** undefined: not read yet since the object started. */
  #at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Makes sure the alarm fires no later than `due`. */
  async atLatest(due: number | undefined): Promise<void> {
    if (due === undefined) return;
    if (this.#at === undefined) this.#at = await this.storage.getAlarm();
    if (this.#at !== null && this.#at <= due) return;
    this.#at = due;
    costs.alarmsSet++;
    await this.storage.setAlarm(due);
  }

  fired(): void {
    this.#at = null;
  }
}
