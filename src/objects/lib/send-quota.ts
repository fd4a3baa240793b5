import { attachmentOf } from "./sockets";
import type { TokenBucket } from "../../protocol";

export type SendVerdict =
  | { ok: true }
  /** Refused: retry after `retryAfterMs`, and send `resendFirst` before anything newer. */
  | { ok: false; retryAfterMs: number; resendFirst: string };

/**
 * The user's send quota (one token bucket for all of their devices) with an
 * order gate per socket. Once a send is refused, every later new send on the
 * same socket is refused too until the refused one comes again, whatever
 * the tokens: a client that resends oldest first then can never see a
 * message it typed later stored ahead of one it typed earlier (two devices
 * share the tokens, so "later" could otherwise find a refilled token).
 *
 * The gate lives in the socket's attachment, so it holds across hibernation;
 * it is written only when it closes or opens, never on the happy path.
 */
export class SendQuota {
  constructor(readonly bucket: TokenBucket) {}

  take(ws: WebSocket, clientId: string, now: number): SendVerdict {
    const attachment = attachmentOf(ws);
    const held = attachment?.heldFor;
    if (held !== undefined && held !== clientId) {
      return { ok: false, retryAfterMs: this.bucket.waitMs(now), resendFirst: held };
    }
    const verdict = this.bucket.take(now);
    if (verdict.ok) {
      if (held !== undefined && attachment) ws.serializeAttachment({ ...attachment, heldFor: undefined });
      return verdict;
    }
    if (held === undefined && attachment) ws.serializeAttachment({ ...attachment, heldFor: clientId });
    return { ok: false, retryAfterMs: verdict.retryAfterMs, resendFirst: clientId };
  }

  /** Gives back the token of a send that turned out to be a resend of a stored message. */
  refund(): void {
    this.bucket.refund();
  }
}
