import type { Env } from "../env";

/**
 * Cross-site WebSocket hijacking guard: a browser always sends Origin, so a
 * page on another site cannot open a socket with a user's token unless that
 * origin is allowed. Non-browser clients send no Origin and are not affected.
 */
export function originAllowed(env: Env, requestUrl: string, origin: string | null): boolean {
  if (origin === null) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.origin === new URL(requestUrl).origin) return true;
  if (parsed.protocol === "http:" && (parsed.hostname === "localhost" || parsed.hostname === "127.0.0.1")) return true;
  const extra = (env.ALLOWED_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean);
  return extra.includes(parsed.origin);
}
