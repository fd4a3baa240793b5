import type { Env } from "../env";
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
 * Ends every open socket of the user opened with a token older than
 * `version` (close 4001), and has the user's object refuse such tokens from
 * now on, even one that passed requireCurrentToken a moment before.
 */
export function endSessions(env: Env, user: string, version: number): Promise<void> {
  return env.USER.getByName(user).revokeSessions(version);
}
