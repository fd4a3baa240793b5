import { Hono, type Context } from "hono";
import { intVar } from "../../config";
import { MAX_PASSWORD_LENGTH, USERNAME_PATTERN } from "../../protocol";
import type { Env } from "../../env";
import { bearerClaims, endSessions } from "../auth";
import { clientAddress } from "../client-address";
import { ApiError } from "../errors";
import { readJsonBody } from "../json-body";
import { requireStrongPassword } from "../password-policy";
import { issueToken, signingKey, tokenRevoked } from "../tokens";

/**
 * POST /api/register and /api/login answer `{ user, token, expiresAt }`;
 * POST /api/logout revokes every token of the user; POST /api/password
 * changes the password, revokes every earlier token and answers a new one.
 */
export const accounts = new Hono<{ Bindings: Env }>()
  .post("/register", async (c) => {
    await throttleAddress(c);
    const { username, password } = await credentials(c.req.raw);
    if (!USERNAME_PATTERN.test(username)) {
      throw new ApiError("invalid_username", "A username is 3 to 32 characters: a-z, 0-9 and _.");
    }
    requireStrongPassword(password, username);
    signingKey(c.env); // refuse before creating an account we could not issue a token for
    const created = await c.env.ACCOUNTS.getByName(username).register(password);
    if (!created) throw new ApiError("username_taken", "That username is taken.");
    return c.json({ user: username, ...(await issueToken(c.env, username, 0)) }, 201);
  })
  .post("/login", async (c) => {
    await throttleAddress(c);
    const { username, password } = await credentials(c.req.raw);
    if (!USERNAME_PATTERN.test(username) || password.length > MAX_PASSWORD_LENGTH) wrongCredentials();
    const result = await c.env.ACCOUNTS.getByName(username).login(password);
    if (!result.ok && result.retryAfterMs !== undefined) tooMany(result.retryAfterMs);
    if (!result.ok) wrongCredentials();
    return c.json({ user: username, ...(await issueToken(c.env, username, result.tokenVersion)) });
  })
  .post("/logout", async (c) => {
    const claims = await bearerClaims(c.env, c.req.raw);
    const revoked = await c.env.ACCOUNTS.getByName(claims.user).revokeTokens(claims.version);
    if (revoked === undefined) throw tokenRevoked();
    // Tokens are revoked from here on; if closing the sockets fails, the 500
    // says so, and a retry of the sign-out gets token_revoked.
    await endSessions(c.env, claims.user, revoked);
    return c.body(null, 204);
  })
  .post("/password", async (c) => {
    const claims = await bearerClaims(c.env, c.req.raw);
    const { password, newPassword } = await stringFields(c.req.raw, ["password", "newPassword"]);
    if (password.length > MAX_PASSWORD_LENGTH) wrongCredentials("The current password is wrong.");
    requireStrongPassword(newPassword, claims.user);
    const result = await c.env.ACCOUNTS.getByName(claims.user).changePassword(password, newPassword, claims.version);
    if (!result.ok && result.revoked) throw tokenRevoked();
    if (!result.ok && result.retryAfterMs !== undefined) tooMany(result.retryAfterMs);
    if (!result.ok) wrongCredentials("The current password is wrong.");
    await endSessions(c.env, claims.user, result.tokenVersion);
    return c.json({ user: claims.user, ...(await issueToken(c.env, claims.user, result.tokenVersion)) });
  });

/** Logins and sign-ups per client address; see clientAddress for which address that is. */
async function throttleAddress(c: Context<{ Bindings: Env }>): Promise<void> {
  const perMinute = intVar(c.env.LOGIN_RATE_PER_MIN, 30);
  const verdict = await c.env.LIMITER.getByName(`login:${clientAddress(c.req.raw, c.env)}`).take(perMinute / 60, perMinute);
  if (!verdict.ok) tooMany(verdict.retryAfterMs);
}

function tooMany(retryAfterMs: number): never {
  throw new ApiError("too_many_attempts", "Too many attempts; try again later.", retryAfterMs);
}

function wrongCredentials(message = "Wrong username or password."): never {
  throw new ApiError("invalid_credentials", message);
}

/** Reads `{ username, password }`; usernames are case-insensitive, so lowercased. */
async function credentials(request: Request): Promise<{ username: string; password: string }> {
  const { username, password } = await stringFields(request, ["username", "password"]);
  return { username: username.trim().toLowerCase(), password };
}

/** A JSON object body (at most MAX_JSON_BODY_BYTES) whose `keys` are all strings. */
async function stringFields<K extends string>(request: Request, keys: readonly K[]): Promise<Record<K, string>> {
  const shape = keys.map((key) => `"${key}": ...`).join(", ");
  const body = await readJsonBody(request, `The body must be JSON: { ${shape} }.`);
  const fields = (body ?? {}) as Record<string, unknown>;
  if (keys.some((key) => typeof fields[key] !== "string")) throw new ApiError("bad_request", `${keys.join(" and ")} must be strings.`);
  return fields as Record<K, string>;
}
