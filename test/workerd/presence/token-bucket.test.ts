/**
 * The token bucket behind the send flood guard and the login limiter,
 * driven by an injected clock.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../../src/protocol/token-bucket";

function takeAll(bucket: TokenBucket, now: number, count: number) {
  return Array.from({ length: count }, () => bucket.take(now));
}

describe("TokenBucket", () => {
  it("allows a full burst at once, then refuses with the time until the next token", () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect(takeAll(bucket, 0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(bucket.take(0)).toEqual({ ok: false, retryAfterMs: 500 });
  });

  it("refills at exactly the rate: refused just before the token is due, allowed when it is", () => {
    const bucket = new TokenBucket(2, 3, 0);
    takeAll(bucket, 0, 3);
    expect(bucket.take(400)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(bucket.take(499)).toMatchObject({ ok: false });
    expect(bucket.take(500)).toEqual({ ok: true });
    expect(bucket.take(500)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(bucket.take(750)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(bucket.take(1_000)).toEqual({ ok: true });
  });

  it("does not count refused attempts against the caller", () => {
    const bucket = new TokenBucket(10, 1, 0);
    bucket.take(0);
    for (let t = 1; t < 100; t++) expect(bucket.take(t).ok).toBe(false);
    expect(bucket.take(100)).toEqual({ ok: true });
  });

  it("never saves up more than the burst while idle", () => {
    const bucket = new TokenBucket(5, 4, 0);
    expect(takeAll(bucket, 3_600_000, 5).map((r) => r.ok)).toEqual([true, true, true, true, false]);
  });

  it("ignores a clock that steps backwards instead of minting tokens", () => {
    const bucket = new TokenBucket(1, 1, 10_000);
    bucket.take(10_000);
    expect(bucket.take(5_000).ok).toBe(false);
    expect(bucket.take(10_999).ok).toBe(false);
    expect(bucket.take(11_000).ok).toBe(true);
  });

  it("lets through the burst plus rate × time over a long flood, and no more", () => {
    const bucket = new TokenBucket(20, 60, 0);
    let accepted = 0;
    for (let t = 0; t <= 10_000; t++) if (bucket.take(t).ok) accepted++;
    expect(accepted).toBe(60 + 20 * 10);
  });

  it("always allows a take once retryAfterMs has passed, and not (within a millisecond of rounding) before", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 80 }),
        (rate, burst, gaps) => {
          // Two buckets in lockstep: one to probe early, one to take on time.
          const bucket = new TokenBucket(rate, burst, 0);
          const probe = new TokenBucket(rate, burst, 0);
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const verdict = bucket.take(now);
            expect(probe.take(now)).toEqual(verdict);
            if (verdict.ok) continue;
            expect(verdict.retryAfterMs).toBeGreaterThan(0);
            expect(verdict.retryAfterMs).toBeLessThanOrEqual(Math.ceil(1_000 / rate));
            if (verdict.retryAfterMs > 1) expect(probe.take(now + verdict.retryAfterMs - 2).ok).toBe(false);
            now += verdict.retryAfterMs;
            expect(bucket.take(now).ok).toBe(true);
            expect(probe.take(now).ok).toBe(true);
          }
        },
      ),
    );
  });
});
