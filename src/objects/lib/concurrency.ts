/**
 * Runs `task` over `items` with at most `limit` running at once, so an alarm
 * with work for many peers neither serialises them nor opens hundreds of
 * calls at the same moment.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
