import type { ClientFrame, ServerFrame } from "../protocol";

export type RequestFrame = ClientFrame & { ref: string };

interface PendingRequest {
  frame: RequestFrame;
  sent: boolean;
  resolve(frame: ServerFrame): void;
  reject(error: Error): void;
}

/**
 * Requests answered by a frame with the same ref (history and the like).
 * One unanswered when the socket drops is simply sent again on the next
 * connection: reads are idempotent, and so are group.create with its
 * clientId and a rename, add or role change already applied (docs/guarantees.md section 6).
 */
export class Requests {
  readonly #pending = new Map<string, PendingRequest>();

  add(frame: RequestFrame): Promise<ServerFrame> {
    return new Promise((resolve, reject) => this.#pending.set(frame.ref, { frame, sent: false, resolve, reject }));
  }

  has(ref: string): boolean {
    return this.#pending.has(ref);
  }

  /** Sends every request not sent on this connection; `send` returns false when not connected. */
  flush(send: (frame: RequestFrame) => boolean): void {
    for (const request of this.#pending.values()) {
      if (!request.sent) request.sent = send(request.frame);
    }
  }

  resolve(ref: string, frame: ServerFrame): void {
    this.#take(ref)?.resolve(frame);
  }

  /**
   * Resolves the sent requests of one type with an answer that carries no
   * ref: the server broadcasts the result of `settings.set` to every device.
   */
  resolveSent(type: RequestFrame["type"], frame: ServerFrame): void {
    for (const [ref, request] of this.#pending) if (request.sent && request.frame.type === type) this.resolve(ref, frame);
  }

  reject(ref: string, error: Error): void {
    this.#take(ref)?.reject(error);
  }

  disconnected(): void {
    for (const request of this.#pending.values()) request.sent = false;
  }

  abandon(error: Error): void {
    for (const request of this.#pending.values()) request.reject(error);
    this.#pending.clear();
  }

  #take(ref: string): PendingRequest | undefined {
    const request = this.#pending.get(ref);
    this.#pending.delete(ref);
    return request;
  }
}
