import { Hono, type Context } from "hono";
import { intVar } from "../../config";
import { MAX_PASSWORD_LENGTH, USERNAME_PATTERN } from "../../protocol";
import type { Env } from "../../env";
import { clientAddress } from "../client-address";
import { ApiError } from "../errors";
import { readJsonBody } from "../json-body";
import { requireStrongPassword } from "../password-policy";
import { issueToken, signingKey } from "../tokens";

interface Credentials {
  username: string;
  password: string;
}

/** POST /api/register and POST /api/login: both answer `{ user, token, expiresAt }`. */
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
    return c.json({ user: username, ...(await issueToken(c.env, username)) }, 201);
  })
  .post("/login", async (c) => {
    await throttleAddress(c);
    const { username, password } = await credentials(c.req.raw);
    if (!USERNAME_PATTERN.test(username) || password.length > MAX_PASSWORD_LENGTH) {
      throw new ApiError("invalid_credentials", "Wrong username or password.");
    }
    const result = await c.env.ACCOUNTS.getByName(username).login(password);
    if (!result.ok && result.retryAfterMs !== undefined) tooMany(result.retryAfterMs);
    if (!result.ok) throw new ApiError("invalid_credentials", "Wrong username or password.");
    return c.json({ user: username, ...(await issueToken(c.env, username)) });
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

/** Reads `{ username, password }` (at most MAX_JSON_BODY_BYTES); usernames are case-insensitive, so lowercased. */
async function credentials(request: Request): Promise<Credentials> {
  const body = await readJsonBody(request, 'The body must be JSON: { "username": ..., "password": ... }.');
  const { username, password } = (body ?? {}) as Record<string, unknown>;
  if (typeof username !== "string" || typeof password !== "string") {
    throw new ApiError("bad_request", "username and password must be strings.");
  }
  return { username: username.trim().toLowerCase(), password };
}
