/**
 * Cost counters: what a Cloudflare bill is made of (rows written, Durable
 * Object calls, alarms). Module-level, so on one workerd process they add up
 * across every object of the Worker; the benchmark reads them through
 * GET /api/debug/metrics, which exists only when BENCH_METRICS is "1".
 * Counting is a few integer additions, cheap enough to leave on.
 */
export interface CostCounters {
  rowsWritten: number;
  rowsRead: number;
  rpcCalls: number;
  alarmRuns: number;
  alarmsSet: number;
  framesIn: number;
  framesOut: number;
  /** Presence and typing frames dropped by load shedding. */
  shed: number;
}

export const costs: CostCounters = { rowsWritten: 0, rowsRead: 0, rpcCalls: 0, alarmRuns: 0, alarmsSet: 0, framesIn: 0, framesOut: 0, shed: 0 };

export function resetCosts(): void {
  for (const key of Object.keys(costs) as (keyof CostCounters)[]) costs[key] = 0;
}
