/**
 * Numbers from samples: percentiles, rates, and ratios to the floor.
 * Pure functions; the scenarios collect, these summarise.
 */

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (`q` in 0..1); NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarise(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, x) => acc + x, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** Events per second over a span in milliseconds; 0 for an empty span. */
export function perSecond(count: number, spanMs: number): number {
  return spanMs > 0 ? (count * 1000) / spanMs : 0;
}

/** How many times the floor's figure ours is; undefined when either is missing or the floor is 0. */
export function ratio(ours: number | undefined, floor: number | undefined): number | undefined {
  if (ours === undefined || floor === undefined || !Number.isFinite(ours) || !Number.isFinite(floor) || floor === 0) return undefined;
  return ours / floor;
}

/** Points of an empirical CDF, at most `points` of them: [value, fraction at or below]. */
export function cdf(samples: readonly number[], points = 200): [number, number][] {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const step = Math.max(1, Math.floor(sorted.length / points));
  const out: [number, number][] = [];
  for (let i = step - 1; i < sorted.length; i += step) out.push([sorted[i]!, (i + 1) / sorted.length]);
  const last = sorted.length - 1;
  if (out[out.length - 1]?.[1] !== 1) out.push([sorted[last]!, 1]);
  return out;
}

/** Rounds for display: 3 significant digits below 100, whole numbers above. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}
