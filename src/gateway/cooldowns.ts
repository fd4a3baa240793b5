import { ApiError } from "./errors";

/** Users remembered at most; past it the table starts over (a cache, not a record). */
const MAX_ENTRIES = 10_000;

/**
 * Users whose object refused a socket for flooding (429 with Retry-After),
 * until when. Kept in the isolate's memory, so a flooder that reconnects in a
 * loop is answered here, without a call to the account or the user's object;
 * the user's object stays the authority (another isolate asks it, and learns).
 */
const until = new Map<string, number>();

/** Throws the object's own refusal while this isolate knows the user is cooling down. */
export function refuseIfCoolingDown(user: string, now = Date.now()): void {
  const end = until.get(user);
  if (end === undefined) return;
  if (end <= now) {
    until.delete(user);
    return;
  }
  throw new ApiError("flood_cooldown", "A socket of this user was closed for sending too many frames; reconnect later.", end - now);
}

/** Remembers a cool-down the user's object answered. */
export function noteCooldown(user: string, response: Response, now = Date.now()): void {
  if (response.status !== 429) return;
  const seconds = Number(response.headers.get("Retry-After"));
  if (!Number.isFinite(seconds) || seconds <= 0) return;
  if (until.size >= MAX_ENTRIES) until.clear();
  until.set(user, now + seconds * 1000);
}
