import { isLocalEnvironment } from "../config";
import type { Env } from "../env";

/** The one address every local client shares for throttling. */
export const LOCAL_ADDRESS = "local";

/**
 * The client address the per-address login throttle is keyed on.
 *
 * Deployed, every request reaches the Worker through Cloudflare's edge, which
 * sets `CF-Connecting-IP` to the address of the connection it accepted,
 * replacing any copy the client sent; so there the header is the client's
 * address.
 *
 * Locally nothing stands in front of the Worker: wrangler dev (miniflare)
 * passes a client's `CF-Connecting-IP` through unchanged and only fills it in
 * from the socket when it is missing, so a client could pick a new address
 * per attempt and never be throttled. Nor does the request tell the two
 * apart: miniflare gives every request a `request.cf` (a placeholder, or the
 * developer's own edge data cached from workers.cloudflare.com/cf.json), and a
 * client can replace it with the `MF-CF-Blob` header. So the configuration
 * decides: in development and tests every client is one address.
 */
export function clientAddress(request: Request, env: Env): string {
  if (isLocalEnvironment(env)) return LOCAL_ADDRESS;
  // Absent only on requests that did not come from the internet (none reach these routes today).
  return request.headers.get("CF-Connecting-IP") ?? LOCAL_ADDRESS;
}
