/**
 * Logins throttled against password guessing: per account (five failures a
 * minute lock it) and per client address (a token bucket in LimiterObject).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_MS } from "../../../src/objects/account";
import { PASSWORD, freshName, postJson, register } from "../helpers";

function login(username: string, password: string): Promise<Response> {
  return postJson("/api/login", { username, password });
}

describe("login throttling per account", () => {
  it("locks the account after five wrong passwords: even the right one gets 429 with Retry-After", async () => {
    const { user } = await register("victim");
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED; i++) {
      const res = await login(user, `wrong guess ${i}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_credentials" } });
    }
    const locked = await login(user, PASSWORD);
    expect(locked.status).toBe(429);
    expect(await locked.json()).toEqual({ error: { code: "too_many_attempts", message: expect.any(String) } });
    const retryAfter = Number(locked.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(LOGIN_WINDOW_MS / 1_000);
  });

  it("lets the right password in after fewer than five failures", async () => {
    const { user } = await register("typo");
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED - 1; i++) expect((await login(user, `typo ${i}`)).status).toBe(401);
    expect((await login(user, PASSWORD)).status).toBe(200);
  });

  it("does not count successful logins as failures", async () => {
    const { user } = await register("often");
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED + 3; i++) expect((await login(user, PASSWORD)).status).toBe(200);
  });

  it("locks one account without touching another", async () => {
    const [victim, bystander] = await Promise.all([register("victim"), register("bystander")]);
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED; i++) await login(victim.user, `guess ${i}`);
    expect((await login(victim.user, PASSWORD)).status).toBe(429);
    expect((await login(bystander.user, PASSWORD)).status).toBe(200);
  });

  it("does not let guesses sent all at once slip past the limit", async () => {
    const { user } = await register("rushed");
    const statuses = await Promise.all(Array.from({ length: 15 }, (_, i) => login(user, `parallel guess ${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LOGIN_FAILURES_ALLOWED);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15 - LOGIN_FAILURES_ALLOWED);
  });

  it("throttles guesses at names nobody registered the same way, so they reveal nothing", async () => {
    const nobody = freshName("ghost");
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED; i++) expect((await login(nobody, `guess ${i}`)).status).toBe(401);
    expect((await login(nobody, "another guess")).status).toBe(429);
  });
});

describe("LimiterObject", () => {
  it("allows its burst, then refuses with the time until the next token", async () => {
    const limiter = env.LIMITER.getByName(`test:${crypto.randomUUID()}`);
    const perMinute = 3;
    for (let i = 0; i < perMinute; i++) expect(await limiter.take(perMinute / 60, perMinute)).toEqual({ ok: true });
    const refused = await limiter.take(perMinute / 60, perMinute);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.retryAfterMs).toBeGreaterThan(19_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000);
    }
  });

  it("keeps a separate bucket per key (per client address)", async () => {
    const [first, second] = [env.LIMITER.getByName(`test:${crypto.randomUUID()}`), env.LIMITER.getByName(`test:${crypto.randomUUID()}`)];
    await first.take(1, 1);
    expect((await first.take(1, 1)).ok).toBe(false);
    expect(await second.take(1, 1)).toEqual({ ok: true });
  });
});
