import { costs } from "./metrics";

/**
 * What each hibernatable socket remembers across hibernation. Kept to ids:
 * the attachment is limited in size and copied on every wake-up.
 */
export interface SocketAttachment {
  user: string;
  device: string;
  connectedAt: number;
  /** The version of the token that opened it (revokeSessions closes older ones). */
  tokenVersion?: number;
  /** Users whose presence this socket subscribed to. */
  subs?: string[];
  /**
   * The clientId of a send refused with `rate_limited`: until it comes
   * again, later new sends on this socket are refused too (lib/send-quota.ts).
   */
  heldFor?: string;
}

export function attachmentOf(ws: WebSocket): SocketAttachment | undefined {
  return (ws.deserializeAttachment() as SocketAttachment | null) ?? undefined;
}

/** Sends one already-serialised frame, ignoring sockets that are closing. */
export function trySend(ws: WebSocket, json: string): void {
  try {
    costs.framesOut++;
    ws.send(json);
  } catch {
    // The socket closed between getWebSockets() and send(); its device will
    // catch up from its cursor when it reconnects.
  }
}

/** Answers the close handshake; the peer may already be gone. */
export function closeQuietly(ws: WebSocket, code = 1000, reason = ""): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
