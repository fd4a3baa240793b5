/**
 * A token bucket: `burst` tokens, refilled at `ratePerSec`. Pure apart from
 * the clock passed in, so tests drive time directly.
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Takes one token if there is one; otherwise says how long until there will be. */
  take(now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    this.#refill(now);
    // A hair under 1 is float rounding of a refill that was waited out to the
    // millisecond: a client that waited retryAfterMs must get its token.
    if (this.#tokens >= 1 - 1e-9) {
      this.#tokens = Math.max(0, this.#tokens - 1);
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.#tokens) / this.ratePerSec) * 1000) };
  }

  /** Gives back a token taken for work that turned out to cost nothing (a resend answered from storage). */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.ratePerSec);
    // A clock that steps backwards must not make the same time count twice.
    this.#updatedAt = Math.max(this.#updatedAt, now);
  }
}
