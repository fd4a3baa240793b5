import { TokenBucket } from "../../protocol";

/** The close code and reason a socket gets when it goes past its frame budget. */
export const FLOOD_CLOSE_CODE = 1008;

export type FrameVerdict =
  /** Handle the frame. */
  | "admit"
  /** This frame went past the budget: close the socket now. */
  | "over"
  /** The socket was already closed for flooding; the frame is dropped unread. */
  | "dropped";

/**
 * The per-socket frame budget, checked before a frame is parsed: a token
 * bucket per socket, over every frame whatever its type. A frame past it
 * costs one map lookup, so a flood spends the flooder's budget rather than
 * the thread every other user's object shares.
 *
 * In memory, keyed by the socket object: a hibernated socket wakes with a
 * full bucket, which is fine because hibernating takes seconds of silence.
 */
export class FrameBudget {
  readonly #buckets = new WeakMap<WebSocket, TokenBucket>();
  /** Sockets closed for flooding whose frames may still be in flight. */
  readonly #closed = new WeakSet<WebSocket>();

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
  ) {}

  admit(ws: WebSocket, now: number): FrameVerdict {
    if (this.#closed.has(ws)) return "dropped";
    let bucket = this.#buckets.get(ws);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSec, this.burst, now);
      this.#buckets.set(ws, bucket);
    }
    if (bucket.take(now).ok) return "admit";
    this.#closed.add(ws);
    return "over";
  }

  /** The close reason (at most 123 bytes, as the WebSocket protocol allows). */
  get reason(): string {
    return `frame budget exceeded: ${this.burst} frames, then ${this.ratePerSec}/s`;
  }
}
