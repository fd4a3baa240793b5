import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { TokenBucket } from "../protocol";

/**
 * A token bucket per key (the gateway uses one per client address for
 * logins). Kept in memory: it guards against guessing, it is not a ledger,
 * and so it costs no storage writes.
 */
export class LimiterObject extends DurableObject<Env> {
  #bucket: TokenBucket | undefined;

  async take(ratePerSec: number, burst: number): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    const now = Date.now();
    if (!this.#bucket || this.#bucket.ratePerSec !== ratePerSec || this.#bucket.burst !== burst) {
      this.#bucket = new TokenBucket(ratePerSec, burst, now);
    }
    return this.#bucket.take(now);
  }
}
