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
