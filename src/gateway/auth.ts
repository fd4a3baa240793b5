import type { Env } from "../env";
import { log } from "../internal";
import { ApiError } from "./errors";
import { tokenRevoked, verifyToken, type TokenClaims } from "./tokens";

/** The claims of the `Authorization: Bearer <token>` token; 401 without a valid one. */
export async function bearerClaims(env: Env, request: Request): Promise<TokenClaims> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("Authorization") ?? "");
  if (!match) throw new ApiError("unauthorized", "Send the token: Authorization: Bearer <token>.");
  return verifyToken(env, match[1]!);
}

/**
 * Refuses (401 `token_revoked`) a token issued before the account's latest
 * sign-out or password change. One RPC, answered from the account's stored
 * record with no hashing.
 */
export async function requireCurrentToken(env: Env, claims: TokenClaims): Promise<void> {
  const current = await env.ACCOUNTS.getByName(claims.user).tokenVersion();
  if (claims.version !== current) throw tokenRevoked();
}

/**
 * A socket accepted for this token is closed if the token turns out revoked
 * by now. For the upgrade that passed requireCurrentToken just before a
 * sign-out: that sign-out's sweep of the user's sockets may have run before
 * this socket reached the user's object, so the gateway looks once more after
 * the hand-over. A sign-out that comes later closes the socket itself.
 */
export async function closeIfRevoked(env: Env, claims: TokenClaims): Promise<void> {
  try {
    const current = await env.ACCOUNTS.getByName(claims.user).tokenVersion();
    if (claims.version !== current) await endSessions(env, claims.user);
  } catch (err) {
    log("revocation_recheck_failed", { user: claims.user, error: String(err) });
  }
}

/** Ends every open socket of the user (close 4001): their tokens were just revoked. */
export function endSessions(env: Env, user: string): Promise<void> {
  return env.USER.getByName(user).revokeSessions();
}
