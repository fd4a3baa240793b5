/** One-to-one (`receipt.*`, `chat` is the peer) or group (`group.*`, `chat` is the group id). */
export type ReceiptKind = "delivered" | "read" | "group.delivered" | "group.read";

export interface ReceiptToSend {
  kind: ReceiptKind;
  chat: string;
  upto: number;
}

interface InFlight extends ReceiptToSend {
  /** The connection's frame number it went out as. */
  frame: number;
}

/**
 * Receipts on their way to the server, coalesced per chat and kind (only the
 * highest `upto` matters: they are watermarks).
 *
 * The server answers no receipt, but it handles a socket's frames in order,
 * so the answer to any request sent after a receipt proves the receipt
 * arrived. Until then it stays in flight, and goes out again on the next
 * connection if this one drops (the server ignores a watermark that does not
 * move, so a repeat costs one small frame).
 */
export class ReceiptQueue {
  readonly #pending = new Map<string, ReceiptToSend>();
  readonly #inFlight = new Map<string, InFlight>();
  /** Highest upto known to have reached the server, per key. */
  readonly #confirmed = new Map<string, number>();
  /** Requests awaiting an answer on this connection: ref -> frame number. */
  readonly #requests = new Map<string, number>();

  /** Remembers a receipt; returns false when an equal or higher one is already queued, sent or confirmed. */
  note(kind: ReceiptKind, chat: string, upto: number): boolean {
    const key = `${kind} ${chat}`;
    const known = Math.max(this.#pending.get(key)?.upto ?? 0, this.#inFlight.get(key)?.upto ?? 0, this.#confirmed.get(key) ?? 0);
    if (upto <= known) return false;
    this.#pending.set(key, { kind, chat, upto });
    return true;
  }

  /** Takes every pending receipt to send now; `send` sends one and returns its frame number. */
  flush(send: (receipt: ReceiptToSend) => number | undefined): void {
    for (const [key, receipt] of this.#pending) {
      const frame = send(receipt);
      if (frame === undefined) return;
      this.#pending.delete(key);
      this.#inFlight.set(key, { ...receipt, frame });
    }
  }

  /** A request that the server answers (it has a ref) went out as frame number `frame`. */
  requestSent(ref: string, frame: number): void {
    this.#requests.set(ref, frame);
  }

  /** An answer to `ref` arrived: every receipt sent before that request arrived too. */
  answered(ref: string): void {
    const frame = this.#requests.get(ref);
    if (frame === undefined) return;
    this.#requests.delete(ref);
    for (const [key, receipt] of this.#inFlight) {
      if (receipt.frame >= frame) continue;
      this.#inFlight.delete(key);
      this.#confirmed.set(key, Math.max(this.#confirmed.get(key) ?? 0, receipt.upto));
    }
  }

  /** The socket dropped: receipts not known to have arrived go out again. */
  disconnected(): void {
    for (const [key, receipt] of this.#inFlight) {
      if ((this.#pending.get(key)?.upto ?? 0) < receipt.upto) this.#pending.set(key, { kind: receipt.kind, chat: receipt.chat, upto: receipt.upto });
    }
    this.#inFlight.clear();
    this.#requests.clear();
  }

  get size(): number {
    return this.#pending.size + this.#inFlight.size;
  }
}
