/**
 * Headers the gateway sets when it forwards a WebSocket upgrade to a user's
 * object. The gateway deletes any copy a client sent, so an object can trust
 * them: identity only ever comes from a verified token.
 */
export const USER_HEADER = "X-Edgechat-User";
export const DEVICE_HEADER = "X-Edgechat-Device";
/** The verified token's version (`ver`), so the user's object can refuse one it saw revoked. */
export const TOKEN_VERSION_HEADER = "X-Edgechat-Token-Version";

/** One structured log line per event: ids and codes, never tokens or text. */
export function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
