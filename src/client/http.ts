import { HTTP_ERRORS, type HttpErrorCode } from "../protocol";
import { EdgechatHttpError } from "./errors";

/** What POST /api/register and POST /api/login answer. */
export interface Session {
  user: string;
  token: string;
  /** Seconds since the epoch (the JWT `exp`). */
  expiresAt: number;
}

/** POST `${url}/api/${action}` with the credentials; throws {@link EdgechatHttpError}. */
export async function authenticate(url: string, action: "register" | "login", username: string, password: string): Promise<Session> {
  let response: Response;
  try {
    response = await fetch(`${trimSlash(url)}/api/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
  } catch (err) {
    throw new EdgechatHttpError(0, "network", `Could not reach ${url}: ${String(err)}`);
  }
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
