import { sign, verify } from "hono/jwt";
import { JwtTokenExpired } from "hono/utils/jwt/types";
import { intVar, isLocalEnvironment } from "../config";
import type { Env } from "../env";
import { ApiError } from "./errors";

/** The secret `.dev.vars` ships for local use; refused in production. */
export const DEVELOPMENT_SECRET = "edgechat-local-development-secret-do-not-use-in-production";
const DEFAULT_TTL_SECONDS = 7 * 24 * 3600;

export interface IssuedToken {
  token: string;
  expiresAt: number; // seconds since the epoch
}

/**
 * The signing key. Production (ENVIRONMENT unset) must configure its own with
 * `wrangler secret put TOKEN_SECRET`; without one, no token is issued or accepted.
 */
export function signingKey(env: Env): string {
  const secret = env.TOKEN_SECRET;
  if (!secret || secret.length < 32 || (!isLocalEnvironment(env) && secret === DEVELOPMENT_SECRET)) {
    throw new ApiError("server_misconfigured", "TOKEN_SECRET is not configured (at least 32 characters; run `wrangler secret put TOKEN_SECRET`).");
  }
  return secret;
}

/**
 * What a valid token says: whose it is, and the account's token version when
 * it was issued (the `ver` claim). Signing out or changing the password bumps
 * the account's version, which revokes every token issued before.
 */
export interface TokenClaims {
  user: string;
  version: number;
}

export async function issueToken(env: Env, user: string, version: number, now = Math.floor(Date.now() / 1000)): Promise<IssuedToken> {
  const expiresAt = now + intVar(env.TOKEN_TTL_SECONDS, DEFAULT_TTL_SECONDS);
  const token = await sign({ sub: user, ver: version, iat: now, exp: expiresAt }, signingKey(env), "HS256");
  return { token, expiresAt };
}

/**
 * The claims of a validly signed, unexpired token. Only HS256 is accepted:
 * `alg: none` and every other algorithm fail. Whether the token was revoked
 * since is the account's answer, not the token's (see AccountObject).
 */
export async function verifyToken(env: Env, token: string): Promise<TokenClaims> {
  const key = signingKey(env);
  try {
    const payload = await verify(token, key, "HS256");
    if (typeof payload.sub !== "string" || payload.sub === "") throw new Error("no subject");
    if (typeof payload.exp !== "number") throw new Error("no expiry");
    // Tokens issued before revocation existed carry no version: they belong to version 0.
    const version = payload.ver ?? 0;
    if (!Number.isSafeInteger(version) || (version as number) < 0) throw new Error("bad version");
    return { user: payload.sub, version: version as number };
  } catch (err) {
    if (err instanceof JwtTokenExpired) throw new ApiError("token_expired", "The token has expired; log in again.");
    throw new ApiError("token_invalid", "The token is not valid.");
  }
}

export function tokenRevoked(): ApiError {
  return new ApiError("token_revoked", "The token was revoked (signed out or password changed); log in again.");
}
