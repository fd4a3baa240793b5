/**
 * A token bucket: `burst` tokens, refilled at `ratePerSec`. Pure apart from
 * the clock passed in, so tests drive time directly. In the protocol because
 * both sides run it: the server's frame budget and send quota are buckets,
 * and the client paces itself with buckets of the sizes `hello` announces.
 */
export class TokenBucket {
  // Plain fields, not parameter properties: Node runs this file (through the
  // SDK, in the benchmark) with type stripping only.
  readonly ratePerSec: number;
  readonly burst: number;
  #tokens: number;
  #updatedAt: number;

  /** `tokens`: how many there are at the start (a full bucket unless said otherwise). */
  constructor(ratePerSec: number, burst: number, now: number, tokens = burst) {
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.#tokens = Math.min(burst, tokens);
    this.#updatedAt = now;
  }

  /** Takes one token if there is one; otherwise says how long until there will be. */
  take(now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const retryAfterMs = this.waitMs(now);
    if (retryAfterMs === 0) this.#tokens = Math.max(0, this.#tokens - 1);
    return retryAfterMs === 0 ? { ok: true } : { ok: false, retryAfterMs };
  }

  /** How long until a token will be there (0: one is there now); takes nothing. */
  waitMs(now: number): number {
    this.#refill(now);
    // A hair under 1 is float rounding of a refill that was waited out to the
    // millisecond: a client that waited retryAfterMs must get its token.
    return this.#tokens >= 1 - 1e-9 ? 0 : Math.ceil(((1 - this.#tokens) / this.ratePerSec) * 1000);
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
