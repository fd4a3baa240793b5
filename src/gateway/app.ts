import { Hono } from "hono";
import type { Env } from "../env";
import { log } from "../internal";
import { ApiError, errorResponse } from "./errors";
import { accounts } from "./routes/accounts";
import { debug } from "./routes/debug";
import { ws } from "./routes/ws";

/**
 * The gateway: authenticates every request and forwards sockets to the
 * user's Durable Object. It keeps no state and parses no chat frame.
 */
export const app = new Hono<{ Bindings: Env }>()
  .get("/api/health", (c) => c.json({ ok: true, time: Date.now() }))
  .route("/api", accounts)
  .route("/api", ws)
  .route("/api", debug)
  .all("/api/*", () => errorResponse("not_found", "No such endpoint."))
  .notFound((c) => (c.env.ASSETS ? c.env.ASSETS.fetch(c.req.raw) : errorResponse("not_found", "Not found.")))
  .onError((err) => {
    if (err instanceof ApiError) return errorResponse(err.code, err.message, err.retryAfterMs);
    log("request_failed", { error: String(err) });
    return errorResponse("internal", "Something went wrong on the server.");
  });
