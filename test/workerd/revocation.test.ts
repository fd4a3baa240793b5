/**
 * Token revocation: signing out and changing the password revoke every
 * earlier token (the account's token version moves on), refuse them at the
 * socket upgrade, and close the sockets they opened.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { DEVICE_HEADER, TOKEN_VERSION_HEADER, USER_HEADER } from "../../src/internal";
import { LOGIN_FAILURES_ALLOWED } from "../../src/objects/account";
import { hashPassword } from "../../src/objects/lib/password";
import { WS_CLOSE_TOKEN_REVOKED, WS_CLOSE_TOKEN_REVOKED_REASON } from "../../src/protocol";
import { connectReady, expectError, freshName, gateway, PASSWORD, postJson, register, type Account } from "./helpers";

const NEW_PASSWORD = "a different long secret";
const CLOSE_TIMEOUT_MS = 3_000;

function authorized(path: string, token: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return gateway(path, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

function logout(token: string): Promise<Response> {
  return authorized("/api/logout", token);
}

function changePassword(token: string, password: string, newPassword: string): Promise<Response> {
  return authorized("/api/password", token, { password, newPassword });
}

function login(user: string, password: string): Promise<Response> {
  return postJson("/api/login", { username: user, password });
}

async function loggedIn(user: string, password = PASSWORD): Promise<Account> {
  const res = await login(user, password);
  expect(res.status).toBe(200);
  return { user, token: (await res.json<{ token: string }>()).token };
}

/** The status of an upgrade with this token (the socket, if any, is closed at once). */
async function upgradeStatus(token: string): Promise<Response> {
  const res = await gateway(`/api/ws?token=${token}`, { headers: { Upgrade: "websocket" } });
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000);
  }
  return res;
}

/** Resolves with the close event's code and reason; fails after a timeout. */
function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket not closed within ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS);
    ws.addEventListener("close", (event) => {
      clearTimeout(timer);
      resolve({ code: event.code, reason: event.reason });
    });
  });
}

const seconds = () => Math.floor(Date.now() / 1000);

describe("POST /api/logout", () => {
  it("answers 204, after which the token no longer opens a socket (401 token_revoked)", async () => {
    const alice = await register("out");
    expect((await upgradeStatus(alice.token)).status).toBe(101);
    const res = await logout(alice.token);
    expect(res.status).toBe(204);
    await expectError(await upgradeStatus(alice.token), 401, "token_revoked");
  });

  it("closes the sockets already open, on every device, with 4001 token revoked", async () => {
    const alice = await register("open");
    const [phone, laptop] = await Promise.all([connectReady(alice, { device: "phone" }), connectReady(alice, { device: "laptop" })]);
    const closes = Promise.all([closeOf(phone.ws), closeOf(laptop.ws)]);
    expect((await logout(alice.token)).status).toBe(204);
    expect(await closes).toEqual([
      { code: WS_CLOSE_TOKEN_REVOKED, reason: WS_CLOSE_TOKEN_REVOKED_REASON },
      { code: WS_CLOSE_TOKEN_REVOKED, reason: WS_CLOSE_TOKEN_REVOKED_REASON },
    ]);
  });

  it("signs out everywhere: tokens from other logins are revoked too, and a new login works", async () => {
    const alice = await register("every");
    const other = await loggedIn(alice.user);
    expect((await logout(alice.token)).status).toBe(204);
    await expectError(await upgradeStatus(other.token), 401, "token_revoked");
    const fresh = await loggedIn(alice.user);
    expect((await upgradeStatus(fresh.token)).status).toBe(101);
  });

  it("refuses a revoked token, so a stolen old one cannot keep signing its owner out", async () => {
    const alice = await register("stolen");
    expect((await logout(alice.token)).status).toBe(204);
    const fresh = await loggedIn(alice.user);
    await expectError(await logout(alice.token), 401, "token_revoked");
    expect((await upgradeStatus(fresh.token)).status).toBe(101);
  });

  it("refuses a request without a valid bearer token", async () => {
    await expectError(await gateway("/api/logout", { method: "POST" }), 401, "unauthorized");
    await expectError(await gateway("/api/logout", { method: "POST", headers: { Authorization: "Basic abc" } }), 401, "unauthorized");
    await expectError(await logout("not-a-token"), 401, "token_invalid");
  });
});

describe("POST /api/password", () => {
  it("changes the password: a fresh token works, the old token and the old password do not", async () => {
    const alice = await register("change");
    const res = await changePassword(alice.token, PASSWORD, NEW_PASSWORD);
    expect(res.status).toBe(200);
    const body = await res.json<{ user: string; token: string; expiresAt: number }>();
    expect(body).toEqual({ user: alice.user, token: expect.any(String), expiresAt: expect.any(Number) });

    expect((await upgradeStatus(body.token)).status).toBe(101);
    await expectError(await upgradeStatus(alice.token), 401, "token_revoked");
    await expectError(await login(alice.user, PASSWORD), 401, "invalid_credentials");
    expect((await login(alice.user, NEW_PASSWORD)).status).toBe(200);
  });

  it("refuses a wrong current password with 401 invalid_credentials and changes nothing", async () => {
    const alice = await register("wrongpw");
    await expectError(await changePassword(alice.token, "not the password", NEW_PASSWORD), 401, "invalid_credentials");
    expect((await upgradeStatus(alice.token)).status).toBe(101);
    expect((await login(alice.user, PASSWORD)).status).toBe(200);
    await expectError(await login(alice.user, NEW_PASSWORD), 401, "invalid_credentials");
  });

  it("counts wrong current passwords towards the account's login lock", async () => {
    const alice = await register("guessed");
    for (let i = 0; i < LOGIN_FAILURES_ALLOWED; i++) {
      await expectError(await changePassword(alice.token, `guess ${i}`, NEW_PASSWORD), 401, "invalid_credentials");
    }
    await expectError(await changePassword(alice.token, PASSWORD, NEW_PASSWORD), 429, "too_many_attempts");
    await expectError(await login(alice.user, PASSWORD), 429, "too_many_attempts");
  });

  it("applies the password policy to the new password", async () => {
    const alice = await register("policy");
    for (const newPassword of ["short", "password123", `${alice.user}2024`]) {
      await expectError(await changePassword(alice.token, PASSWORD, newPassword), 400, "weak_password");
    }
    expect((await login(alice.user, PASSWORD)).status).toBe(200);
  });

  it("closes the sockets open before the change with 4001", async () => {
    const alice = await register("pwsock");
    const phone = await connectReady(alice, { device: "phone" });
    const closed = closeOf(phone.ws);
    expect((await changePassword(alice.token, PASSWORD, NEW_PASSWORD)).status).toBe(200);
    expect(await closed).toEqual({ code: WS_CLOSE_TOKEN_REVOKED, reason: WS_CLOSE_TOKEN_REVOKED_REASON });
  });

  it("refuses a revoked token, a missing token, and a body without both passwords", async () => {
    const alice = await register("pwrevoked");
    expect((await logout(alice.token)).status).toBe(204);
    await expectError(await changePassword(alice.token, PASSWORD, NEW_PASSWORD), 401, "token_revoked");
    await expectError(await postJson("/api/password", { password: PASSWORD, newPassword: NEW_PASSWORD }), 401, "unauthorized");
    const fresh = await loggedIn(alice.user);
    await expectError(await authorized("/api/password", fresh.token, { password: PASSWORD }), 400, "bad_request");
  });
});

describe("tokens and accounts from before revocation", () => {
  it("accepts a token without a ver claim for an account at version 0, until the account signs out", async () => {
    const alice = await register("legacy");
    const legacy = await sign({ sub: alice.user, iat: seconds(), exp: seconds() + 3600 }, env.TOKEN_SECRET!, "HS256");
    expect((await upgradeStatus(legacy)).status).toBe(101);
    expect((await logout(alice.token)).status).toBe(204);
    await expectError(await upgradeStatus(legacy), 401, "token_revoked");
  });

  it("keeps an account record stored without a token version working, at version 0", async () => {
    const user = freshName("oldrec");
    const stub = env.ACCOUNTS.getByName(user);
    const hash = await hashPassword(PASSWORD);
    // The record as accounts stored it before token versions existed.
    await runInDurableObject(stub, (_instance, state) => state.storage.kv.put("account", { ...hash, createdAt: Date.now() }));
    expect(await stub.tokenVersion()).toBe(0);
    const alice = await loggedIn(user);
    expect((await upgradeStatus(alice.token)).status).toBe(101);
    expect((await logout(alice.token)).status).toBe(204);
    expect(await stub.tokenVersion()).toBe(1);
  });

  it("refuses a token whose ver claim is not a non-negative integer", async () => {
    const alice = await register("badver");
    for (const ver of [-1, 1.5, "0"]) {
      const token = await sign({ sub: alice.user, ver, iat: seconds(), exp: seconds() + 3600 }, env.TOKEN_SECRET!, "HS256");
      await expectError(await upgradeStatus(token), 401, "token_invalid");
    }
  });
});

describe("an upgrade that races a sign-out", () => {
  it("is refused by the user's object once the sign-out's sweep has passed, though the gateway's check had let it through", async () => {
    const alice = await register("race");
    const phone = await connectReady(alice);
    const closed = closeOf(phone.ws);
    // The sign-out's sweep reaches the user's object (version 1 from now on)...
    await env.USER.getByName(alice.user).revokeSessions(1);
    expect(await closed).toEqual({ code: WS_CLOSE_TOKEN_REVOKED, reason: WS_CLOSE_TOKEN_REVOKED_REASON });
    // ...before an upgrade the gateway checked at version 0 arrives there.
    const late = await env.USER.getByName(alice.user).fetch(
      new Request("http://user/ws", { headers: { Upgrade: "websocket", [USER_HEADER]: alice.user, [DEVICE_HEADER]: "late", [TOKEN_VERSION_HEADER]: "0" } }),
    );
    await expectError(late, 401, "token_revoked");
  });

  it("leaves a socket opened with the new token open when the sweep comes after it", async () => {
    const alice = await register("race");
    expect((await logout(alice.token)).status).toBe(204);
    // Signed in again after the sign-out: a token at version 1.
    const fresh = await connectReady(await loggedIn(alice.user));
    // The same sign-out's sweep, arriving only now, closes only sockets of older tokens.
    await env.USER.getByName(alice.user).revokeSessions(1);
    await fresh.barrier();
  });
});
