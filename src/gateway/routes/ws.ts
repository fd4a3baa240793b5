import { Hono } from "hono";
import { MAX_ID_LENGTH, WS_TOKEN_PREFIX } from "../../protocol";
import type { Env } from "../../env";
import { DEVICE_HEADER, TOKEN_VERSION_HEADER, USER_HEADER } from "../../internal";
import { requireCurrentToken } from "../auth";
import { noteCooldown, refuseIfCoolingDown } from "../cooldowns";
import { ApiError } from "../errors";
import { originAllowed } from "../origin";
import { verifyToken } from "../tokens";

const DEVICE_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_ID_LENGTH}}$`);

/**
 * GET /api/ws: authenticates (a valid token the account has not revoked),
 * checks the Origin, and hands the upgrade to the user's object. It never
 * reads a chat frame: sockets belong to the object.
 *
 * The token comes in `?token=` or, for browsers that would rather keep it out
 * of URLs, as a second subprotocol: `new WebSocket(url, ["edgechat.v1", "bearer." + token])`.
 */
export const ws = new Hono<{ Bindings: Env }>().get("/ws", async (c) => {
  const request = c.req.raw;
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("upgrade_required", "GET /api/ws expects a WebSocket upgrade.");
  }
  if (!originAllowed(c.env, request.url, request.headers.get("Origin"))) {
    throw new ApiError("origin_not_allowed", "This origin may not open a socket; see ALLOWED_ORIGINS.");
  }
  const token = tokenFrom(request);
  if (!token) throw new ApiError("unauthorized", "Send a token: ?token= or the subprotocol bearer.<token>.");
  const claims = await verifyToken(c.env, token);
  refuseIfCoolingDown(claims.user);
  await requireCurrentToken(c.env, claims);
  const { user } = claims;

  const device = c.req.query("device") ?? crypto.randomUUID();
  if (!DEVICE_PATTERN.test(device)) throw new ApiError("bad_request", "device must be 1 to 64 characters: A-Z, a-z, 0-9, _ and -.");

  const headers = new Headers(request.headers);
  // Identity comes from the verified token only, never from what a client sent.
  headers.set(USER_HEADER, user);
  headers.set(DEVICE_HEADER, device);
  // An upgrade checked just before a sign-out can reach the object after the sign-out's sweep:
  // the object compares this with the version the sweep left it (UserObject.revokeSessions).
  headers.set(TOKEN_VERSION_HEADER, String(claims.version));
  const response = await c.env.USER.getByName(user).fetch(new Request(request.url, { method: "GET", headers }));
  noteCooldown(user, response);
  return response;
});

function tokenFrom(request: Request): string | undefined {
  const fromQuery = new URL(request.url).searchParams.get("token");
  if (fromQuery) return fromQuery;
  const protocols = request.headers.get("Sec-WebSocket-Protocol")?.split(",") ?? [];
  const bearer = protocols.map((p) => p.trim()).find((p) => p.startsWith(WS_TOKEN_PREFIX));
  return bearer?.slice(WS_TOKEN_PREFIX.length);
}
