import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../../src/config";
import { attemptsExhausted, backoffDelay } from "../../src/objects/lib/backoff";

const policy: RetryPolicy = { maxAttempts: 10, baseMs: 1_000, maxMs: 60_000 };
const highest = () => 0.999_999_999;
const lowest = () => 0;

describe("backoffDelay", () => {
  it("doubles the delay with each attempt", () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, policy, highest));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it("caps the delay at maxMs however many attempts were made", () => {
    expect(backoffDelay(7, policy, highest)).toBe(60_000);
    expect(backoffDelay(50, policy, highest)).toBe(60_000);
    expect(backoffDelay(5_000, policy, highest)).toBe(60_000);
  });

  it("jitters down to half the delay and no lower", () => {
    expect(backoffDelay(1, policy, lowest)).toBe(500);
    expect(backoffDelay(3, policy, lowest)).toBe(2_000);
    expect(backoffDelay(60, policy, lowest)).toBe(30_000);
  });

  it("treats attempt 0 or below like the first retry", () => {
    expect(backoffDelay(0, policy, highest)).toBe(1_000);
    expect(backoffDelay(-3, policy, highest)).toBe(1_000);
  });

  it("never returns less than one millisecond", () => {
    expect(backoffDelay(1, { maxAttempts: 3, baseMs: 1, maxMs: 4 }, lowest)).toBe(1);
  });

  it("uses the real random source when none is given and stays within bounds", () => {
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(2, policy);
      expect(delay).toBeGreaterThanOrEqual(1_000);
      expect(delay).toBeLessThanOrEqual(2_000);
    }
  });

  it("keeps every delay within [50%, 100%] of the capped exponential (property)", () => {
    const arbPolicy = fc
      .record({ baseMs: fc.integer({ min: 1, max: 100_000 }), extra: fc.integer({ min: 0, max: 10_000_000 }) })
      .map(({ baseMs, extra }): RetryPolicy => ({ maxAttempts: 10, baseMs, maxMs: baseMs + extra }));
    const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), arbPolicy, random, (attempt, p, r) => {
        const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** (attempt - 1));
        const delay = backoffDelay(attempt, p, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(Math.max(1, Math.floor(ceiling / 2)));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }),
    );
  });

  it("never shrinks the delay as attempts grow, for the same jitter (property)", () => {
    const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 100 }), random, (attempt, more, r) => {
        expect(backoffDelay(attempt + more, policy, () => r)).toBeGreaterThanOrEqual(backoffDelay(attempt, policy, () => r));
      }),
    );
  });
});

describe("attemptsExhausted", () => {
  it("is true exactly once maxAttempts attempts were made", () => {
    const three: RetryPolicy = { maxAttempts: 3, baseMs: 1, maxMs: 4 };
    expect([0, 1, 2, 3, 4].map((n) => attemptsExhausted(n, three))).toEqual([false, false, false, true, true]);
  });
});
