import { Hono } from "hono";
import type { Env } from "../../env";
import { costs, resetCosts } from "../../objects/lib/metrics";
import { ApiError } from "../errors";

/**
 * GET /api/debug/metrics (and POST to reset): the cost counters, for the
 * benchmark. Off unless BENCH_METRICS is "1"; it reveals nothing about users.
 */
export const debug = new Hono<{ Bindings: Env }>()
  .use("/debug/*", async (c, next) => {
    if (c.env.BENCH_METRICS !== "1") throw new ApiError("not_found", "No such endpoint.");
    await next();
  })
  .get("/debug/metrics", (c) => c.json(costs))
  .post("/debug/metrics/reset", (c) => {
    resetCosts();
    return c.json(costs);
  });
