/**
 * Login throttling per client address against the running worker (wrangler's
 * dev runtime, as `npm start` runs it), started with a small allowance
 * (4 attempts a minute) so it can be exhausted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type RunningWorker } from "./harness";
import { freshName, PASSWORD, postJson } from "./support";

const PER_MINUTE = 4;

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker({ vars: { LOGIN_RATE_PER_MIN: String(PER_MINUTE) } });
});
afterAll(() => worker?.stop());

describe("login throttling per client address", () => {
  it("refuses sign-ups and logins from one address past its allowance with 429 and Retry-After", async () => {
    const username = freshName("addr");
    expect((await postJson(worker, "/api/register", { username, password: PASSWORD })).status).toBe(201);
    // Each attempt uses a different account, so the per-account lock plays no part.
    const statuses: number[] = [];
    for (let i = 1; i < PER_MINUTE; i++) statuses.push((await postJson(worker, "/api/login", { username: freshName("guess"), password: "wrong password" })).status);
    expect(statuses).toEqual(new Array(PER_MINUTE - 1).fill(401));

    const refused = await postJson(worker, "/api/login", { username, password: PASSWORD });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "too_many_attempts" } });
    const retryAfter = Number(refused.headers.get("Retry-After"));
    // One attempt a quarter minute: the next is allowed within 15 s.
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60 / PER_MINUTE);
  });
});

describe("a client that sends its own CF-Connecting-IP locally", () => {
  // Its own worker: the bucket of the test above is spent.
  let local: RunningWorker;
  beforeAll(async () => {
    local = await startWorker({ vars: { LOGIN_RATE_PER_MIN: String(PER_MINUTE) } });
  });
  afterAll(() => local?.stop());

  it("is throttled as one address, however often it changes the header", async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= PER_MINUTE; i++) {
      const res = await fetch(`${local.url}/api/login`, {
        method: "POST",
        // wrangler dev passes this header through as sent; only Cloudflare's edge would replace it.
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": `203.0.113.${i + 1}` },
        body: JSON.stringify({ username: freshName("spoof"), password: "wrong password" }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...new Array(PER_MINUTE).fill(401), 429]);
  });
});
