/**
 * Limits shared by the server and clients. The server reads overrides from its
 * environment (wrangler.toml [vars]); these are the defaults documented in
 * docs/protocol.md.
 */
export interface Limits {
  /** Largest message text, in UTF-8 bytes. */
  maxTextBytes: number;
  /** Largest WebSocket frame a client may send, in UTF-8 bytes. */
  maxFrameBytes: number;
  /** Messages in a history page when the client does not ask for fewer. */
  historyPageSize: number;
  /** Messages in one sync page. */
  syncPageSize: number;
  /**
   * The per-socket frame budget (every frame, of any type): a token bucket of
   * `frameBurst` refilled at `frameRatePerSec`. A socket past it is closed
   * with 1008; a client paces itself below it.
   */
  frameRatePerSec: number;
  frameBurst: number;
  /** The per-user send quota (`msg.send` and `group.send`, all devices together). */
  sendRatePerSec: number;
  sendBurst: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxTextBytes: 64 * 1024,
  // Room for a full-size text even when JSON escaping doubles some of it.
  maxFrameBytes: 256 * 1024,
  historyPageSize: 50,
  syncPageSize: 200,
  frameRatePerSec: 50,
  frameBurst: 200,
  sendRatePerSec: 20,
  sendBurst: 60,
};

/** Upper bound on the `limit` a client may ask for in one history page. */
export const MAX_HISTORY_PAGE = 200;
/** Client-chosen identifiers (client message ids, refs, device ids). */
export const MAX_ID_LENGTH = 64;

/** Usernames are the user ids: lowercase ASCII letters, digits and underscore. */
export const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
/**
 * Largest body the JSON endpoints (register, login, password change) accept,
 * in bytes. Room for two passwords of MAX_PASSWORD_LENGTH with every character
 * \u-escaped (6 bytes each) and a username; a credential never needs more, so
 * a bigger body is refused before it is read.
 */
export const MAX_JSON_BODY_BYTES = 4 * 1024;

/** The WebSocket subprotocol clients must offer; the token rides in a second one. */
export const WS_PROTOCOL = "edgechat.v1";
export const WS_TOKEN_PREFIX = "bearer.";
/** Close code (and reason) of the sockets a sign-out or password change ends. */
export const WS_CLOSE_TOKEN_REVOKED = 4001;
export const WS_CLOSE_TOKEN_REVOKED_REASON = "token revoked";

/** Text frame the runtime answers with "pong" without waking the object. */
export const PING = "ping";
export const PONG = "pong";

const encoder = new TextEncoder();
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}
