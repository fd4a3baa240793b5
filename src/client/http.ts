import { HTTP_ERRORS, type HttpErrorCode } from "../protocol";
import { EdgechatHttpError } from "./errors";

/** What POST /api/register, /api/login and /api/password answer. */
export interface Session {
  user: string;
  token: string;
  /** Seconds since the epoch (the JWT `exp`). */
  expiresAt: number;
}

/** POST `${url}/api/${action}` with the credentials; throws {@link EdgechatHttpError}. */
export async function authenticate(url: string, action: "register" | "login", username: string, password: string): Promise<Session> {
  return sessionFrom(await post(url, `/api/${action}`, { username, password }));
}

/**
 * POST /api/logout: revokes every token of the user (all devices), and the
 * server closes their sockets (code 4001). Throws {@link EdgechatHttpError},
 * `token_revoked` when this token was revoked already.
 */
export async function logout(url: string, token: string): Promise<void> {
  const response = await post(url, "/api/logout", undefined, token);
  if (!response.ok) throw httpError(response.status, await response.json().catch(() => undefined));
}

/**
 * POST /api/password: checks `password`, sets `newPassword`, revokes every
 * earlier token (closing every socket) and answers a new session for this
 * device. Throws {@link EdgechatHttpError} (`invalid_credentials`, `weak_password`, ...).
 */
export async function changePassword(url: string, token: string, password: string, newPassword: string): Promise<Session> {
  return sessionFrom(await post(url, "/api/password", { password, newPassword }, token));
}

async function post(url: string, path: string, body: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(`${trimSlash(url)}${path}`, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new EdgechatHttpError(0, "network", `Could not reach ${url}: ${String(err)}`);
  }
}

async function sessionFrom(response: Response): Promise<Session> {
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw httpError(response.status, body);
  if (!isSession(body)) throw new EdgechatHttpError(response.status, "internal", "The server answered without a token.");
  return { user: body.user, token: body.token, expiresAt: body.expiresAt };
}

function httpError(status: number, body: unknown): EdgechatHttpError {
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === "object" && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && Object.hasOwn(HTTP_ERRORS, code)) {
      return new EdgechatHttpError(status, code as HttpErrorCode, typeof message === "string" ? message : code);
    }
  }
  return new EdgechatHttpError(status, "internal", `The server answered ${status}.`);
}

function isSession(body: unknown): body is Session {
  if (typeof body !== "object" || body === null) return false;
  const { user, token, expiresAt } = body as Record<string, unknown>;
  return typeof user === "string" && typeof token === "string" && typeof expiresAt === "number";
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
