import { TokenBucket, type Limits } from "../protocol";

/**
 * How much of the server's frame budget the client allows itself. Frames
 * sent evenly can arrive bunched (a stalled network delivers them together),
 * and the server counts arrivals, so the client keeps a margin: past the
 * budget the server closes the socket.
 */
const RATE_SHARE = 0.8;
const BURST_SHARE = 0.5;

/**
 * Keeps one socket's frames under the server's per-socket frame budget:
 * frames go out at once while the bucket has tokens and wait in order
 * otherwise. Order is never changed, so "the answer to a later request
 * proves an earlier receipt arrived" still holds (receipts.ts).
 *
 * A socket that closes drops what is waiting, like frames lost in flight:
 * the outbox, requests and receipts resend on the next connection.
 */
export class FramePacer {
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  #bucket: TokenBucket;
  readonly #waiting: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(write: (text: string) => void, limits: Pick<Limits, "frameRatePerSec" | "frameBurst">, now: () => number = Date.now) {
    this.#write = write;
    this.#now = now;
    this.#bucket = FramePacer.#bucketFor(limits, now());
  }

  /**
   * The server announced its budget (`hello`): pace by it from now on. A
   * budget other than the one assumed starts empty, since frames sent before
   * `hello` already counted against it.
   */
  setBudget(limits: Pick<Limits, "frameRatePerSec" | "frameBurst">): void {
    const next = FramePacer.#bucketFor(limits, this.#now(), 0);
    if (next.ratePerSec === this.#bucket.ratePerSec && next.burst === this.#bucket.burst) return;
    this.#bucket = next;
  }

  send(text: string): void {
    this.#waiting.push(text);
    this.#drain();
  }

  /** Frames held back right now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** The socket is gone: what waits is dropped. */
  clear(): void {
    this.#waiting.length = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drain(): void {
    if (this.#timer !== undefined) return;
    while (this.#waiting.length > 0) {
      const verdict = this.#bucket.take(this.#now());
      if (!verdict.ok) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#drain();
        }, verdict.retryAfterMs);
        return;
      }
      this.#write(this.#waiting.shift()!);
    }
  }

  static #bucketFor(limits: Pick<Limits, "frameRatePerSec" | "frameBurst">, now: number, tokens?: number): TokenBucket {
    return new TokenBucket(limits.frameRatePerSec * RATE_SHARE, Math.max(1, Math.floor(limits.frameBurst * BURST_SHARE)), now, tokens);
  }
}
