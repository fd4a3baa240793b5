/**
 * The gateway's HTTP surface: registration and login, and the checks on
 * GET /api/ws before a socket reaches a user's object.
 */
import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { expectError, freshName, gateway, PASSWORD, postJson, register } from "./helpers";

function openSocket(query: string, headers: Record<string, string> = {}): Promise<Response> {
  return gateway(`/api/ws${query}`, { headers: { Upgrade: "websocket", ...headers } });
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const now = () => Math.floor(Date.now() / 1000);

describe("POST /api/register", () => {
  it("creates the account and answers 201 with a token", async () => {
    const username = freshName("new");
    const res = await postJson("/api/register", { username, password: PASSWORD });
    expect(res.status).toBe(201);
    const body = await res.json<{ user: string; token: string; expiresAt: number }>();
    expect(body.user).toBe(username);
    expect(body.token.split(".")).toHaveLength(3);
    expect(body.expiresAt).toBeGreaterThan(now());
  });

  it("stores usernames in lower case without surrounding spaces", async () => {
    const username = freshName("case");
    const res = await postJson("/api/register", { username: `  ${username.toUpperCase()} `, password: PASSWORD });
    expect(res.status).toBe(201);
    expect((await res.json<{ user: string }>()).user).toBe(username);
    await expectError(await postJson("/api/register", { username, password: PASSWORD }), 409, "username_taken");
  });

  it("refuses a username outside a-z, 0-9 and _ or not 3 to 32 characters", async () => {
    for (const username of ["ab", "has space", "dash-ed", "émile", "x".repeat(33), ""]) {
      await expectError(await postJson("/api/register", { username, password: PASSWORD }), 400, "invalid_username");
    }
  });

  it("refuses a password shorter than 8 or longer than 256 characters", async () => {
    for (const password of ["1234567", "x".repeat(257)]) {
      await expectError(await postJson("/api/register", { username: freshName("weak"), password }), 400, "weak_password");
    }
  });

  it("refuses a username that is taken with 409", async () => {
    const { user } = await register("taken");
    await expectError(await postJson("/api/register", { username: user, password: "another password" }), 409, "username_taken");
  });

  it("refuses a body that is not JSON credentials with bad_request", async () => {
    await expectError(await gateway("/api/register", { method: "POST", body: "username=alice" }), 400, "bad_request");
    await expectError(await postJson("/api/register", { username: "alice_x" }), 400, "bad_request");
    await expectError(await postJson("/api/register", { username: 42, password: PASSWORD }), 400, "bad_request");
    await expectError(await postJson("/api/register", null), 400, "bad_request");
  });
});

describe("POST /api/login", () => {
  it("answers the right password with a token", async () => {
    const { user } = await register("login");
    const res = await postJson("/api/login", { username: user, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user, token: expect.any(String), expiresAt: expect.any(Number) });
  });

  it("refuses a wrong password and an unknown username alike, with 401 invalid_credentials", async () => {
    const { user } = await register("login");
    await expectError(await postJson("/api/login", { username: user, password: "wrong password" }), 401, "invalid_credentials");
    await expectError(await postJson("/api/login", { username: freshName("nobody"), password: PASSWORD }), 401, "invalid_credentials");
  });
});

describe("GET /api/ws", () => {
  it("upgrades a request with a valid token to a socket", async () => {
    const alice = await register("alice");
    const res = await openSocket(`?token=${alice.token}`);
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });

  it("takes the token from the bearer subprotocol and agrees on edgechat.v1", async () => {
    const alice = await register("alice");
    const res = await openSocket("", { "Sec-WebSocket-Protocol": `edgechat.v1, bearer.${alice.token}` });
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("edgechat.v1");
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });

  it("refuses a request without a token with 401 unauthorized", async () => {
    await expectError(await openSocket(""), 401, "unauthorized");
  });

  it("refuses a token signed with another key", async () => {
    const forged = await sign({ sub: freshName("victim"), iat: now(), exp: now() + 3600 }, "some-other-secret-that-is-long-enough-xx", "HS256");
    await expectError(await openSocket(`?token=${forged}`), 401, "token_invalid");
  });

  it("refuses an unsigned token (alg none)", async () => {
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: freshName("victim"), iat: now(), exp: now() + 3600 })}.`;
    await expectError(await openSocket(`?token=${unsigned}`), 401, "token_invalid");
  });

  it("refuses a token with a tampered payload", async () => {
    const alice = await register("alice");
    const [header, , signature] = alice.token.split(".");
    const tampered = `${header}.${base64url({ sub: freshName("victim"), iat: now(), exp: now() + 3600 })}.${signature}`;
    await expectError(await openSocket(`?token=${tampered}`), 401, "token_invalid");
  });

  it("refuses an expired token with token_expired", async () => {
    const expired = await sign({ sub: freshName("late"), iat: now() - 7200, exp: now() - 60 }, env.TOKEN_SECRET!, "HS256");
    await expectError(await openSocket(`?token=${expired}`), 401, "token_expired");
  });

  it("refuses a token without an expiry or a subject", async () => {
    const noExpiry = await sign({ sub: freshName("forever"), iat: now() }, env.TOKEN_SECRET!, "HS256");
    await expectError(await openSocket(`?token=${noExpiry}`), 401, "token_invalid");
    const noSubject = await sign({ iat: now(), exp: now() + 3600 }, env.TOKEN_SECRET!, "HS256");
    await expectError(await openSocket(`?token=${noSubject}`), 401, "token_invalid");
  });

  it("refuses a token that is not a JWT at all", async () => {
    await expectError(await openSocket("?token=not-a-token"), 401, "token_invalid");
  });

  it("answers a request that is not a WebSocket upgrade with 426", async () => {
    const alice = await register("alice");
    await expectError(await gateway(`/api/ws?token=${alice.token}`), 426, "upgrade_required");
  });

  it("refuses a browser page from another site with 403 origin_not_allowed", async () => {
    const alice = await register("alice");
    await expectError(await openSocket(`?token=${alice.token}`, { Origin: "https://evil.example" }), 403, "origin_not_allowed");
    await expectError(await openSocket(`?token=${alice.token}`, { Origin: "null" }), 403, "origin_not_allowed");
  });

  it("lets the worker's own origin and local development origins open a socket", async () => {
    const alice = await register("alice");
    for (const origin of ["http://localhost", "http://localhost:5173", "http://127.0.0.1:8787"]) {
      const res = await openSocket(`?token=${alice.token}`, { Origin: origin });
      expect(res.status, origin).toBe(101);
      res.webSocket!.accept();
      res.webSocket!.close(1000);
    }
  });

  it("refuses a device id with characters outside A-Z, a-z, 0-9, _ and -", async () => {
    const alice = await register("alice");
    await expectError(await openSocket(`?token=${alice.token}&device=${encodeURIComponent("../etc")}`), 400, "bad_request");
  });
});

describe("other paths", () => {
  it("answers GET /api/health", async () => {
    const res = await gateway("/api/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, time: expect.any(Number) });
  });

  it("answers an unknown /api path with a JSON 404", async () => {
    await expectError(await gateway("/api/nothing-here"), 404, "not_found");
    await expectError(await gateway("/api/register"), 404, "not_found");
  });
});
