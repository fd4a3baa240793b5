/**
 * Hostile and broken input over the real socket and HTTP: every bad frame gets
 * its typed error and leaves the socket usable; bad tokens and foreign origins
 * never reach a user's object.
 */
import { sign } from "hono/jwt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, MAX_JSON_BODY_BYTES, type FrameErrorCode } from "../../src/protocol";
import { startWorker, type RunningWorker } from "./harness";
import { connect, freshName, is, postJson, register, sendText, socketPool, UpgradeRefused, type Client } from "./support";

/** Our own signing key for this worker, so the tests can mint expired and forged tokens. */
const SECRET = "edgechat-e2e-secret-for-bad-input-tests-0123456789";
let worker: RunningWorker;
const sockets = socketPool();
beforeAll(async () => {
  worker = await startWorker({ vars: { TOKEN_SECRET: SECRET, ENVIRONMENT: "test" } });
});
afterEach(() => sockets.closeAll());
afterAll(() => worker?.stop());

async function pair(): Promise<{ a: Client; alice: string; bob: string }> {
  const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
  return { a: await sockets.open(worker, alice.token), alice: alice.user, bob: bob.user };
}

describe("bad frames over a socket", () => {
  const cases: { name: string; code: FrameErrorCode; frame: (users: { alice: string; bob: string }) => string | Buffer; ref?: string }[] = [
    { name: "malformed JSON", code: "bad_json", frame: () => '{"type":"msg.send",' },
    { name: "a JSON array", code: "bad_frame", frame: () => "[1,2,3]" },
    { name: "an unknown type", code: "unknown_type", ref: "u1", frame: () => JSON.stringify({ type: "msg.delete", ref: "u1" }) },
    {
      name: "a wrong-typed field",
      code: "bad_frame",
      ref: "w1",
      frame: ({ bob }) => JSON.stringify({ type: "msg.send", ref: "w1", clientId: 42, to: bob, text: "hi" }),
    },
    { name: "a missing field", code: "bad_frame", ref: "w2", frame: ({ bob }) => JSON.stringify({ type: "receipt.read", ref: "w2", chat: bob }) },
    { name: "a binary frame", code: "binary_not_supported", frame: () => Buffer.from([1, 2, 3]) },
    {
      name: "a frame over 256 KiB",
      code: "frame_too_large",
      frame: ({ bob }) => JSON.stringify({ type: "msg.send", clientId: "big", to: bob, text: "x".repeat(DEFAULT_LIMITS.maxFrameBytes) }),
    },
    {
      name: "a text over 64 KiB",
      code: "text_too_large",
      ref: "t1",
      frame: ({ bob }) => JSON.stringify({ type: "msg.send", ref: "t1", clientId: "long", to: bob, text: "é".repeat(DEFAULT_LIMITS.maxTextBytes / 2 + 1) }),
    },
    {
      name: "a message to a user nobody registered",
      code: "unknown_user",
      ref: "n1",
      frame: () => JSON.stringify({ type: "msg.send", ref: "n1", clientId: "nobody", to: freshName("ghost"), text: "hi" }),
    },
    {
      name: "a message to oneself",
      code: "invalid_recipient",
      ref: "s1",
      frame: ({ alice }) => JSON.stringify({ type: "msg.send", ref: "s1", clientId: "self", to: alice, text: "hi" }),
    },
    { name: "a receipt for a chat that does not exist", code: "unknown_chat", ref: "c1", frame: ({ bob }) => JSON.stringify({ type: "receipt.read", ref: "c1", chat: bob, upto: 1 }) },
    { name: "history of a chat that does not exist", code: "unknown_chat", ref: "h1", frame: ({ bob }) => JSON.stringify({ type: "history", ref: "h1", chat: bob }) },
  ];

  it.each(cases)("answers $name with $code and keeps the socket usable", async ({ code, frame, ref }) => {
    const { a, alice, bob } = await pair();
    a.send(frame({ alice, bob }));
    const error = await a.next(is("error"));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/.+/);
    expect(error.ref).toBe(ref);

    const sent = await sendText(a, bob, "still here");
    expect(sent).toMatchObject({ seq: 1, duplicate: false });
    expect(a.received.filter((f) => f.type === "error")).toHaveLength(1);
  });

  it("stores nothing for rejected frames", async () => {
    const { a, bob } = await pair();
    a.send(JSON.stringify({ type: "msg.send", ref: "t", clientId: "long", to: bob, text: "x".repeat(DEFAULT_LIMITS.maxTextBytes + 1) }));
    await a.next(is("error", (f) => f.ref === "t"));
    // The rejected clientId is free: the next send with it is a new message, not a duplicate.
    expect(await sendText(a, bob, "fits", "long")).toMatchObject({ seq: 1, rev: 1, duplicate: false });
  });
});

describe("opening a socket", () => {
  async function refused(token: string | undefined, options: Parameters<typeof connect>[2] = {}): Promise<UpgradeRefused> {
    const error = await connect(worker, token, options).then(
      (client) => client.close().then(() => undefined),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UpgradeRefused);
    return error as UpgradeRefused;
  }

  async function tokenFor(user: string, claims: { iat?: number; exp?: number } = {}, secret = SECRET): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return sign({ sub: user, iat: now, exp: now + 3600, ...claims }, secret, "HS256");
  }

  it("accepts a token in the bearer subprotocol and a token this test signed with the worker's key", async () => {
    const alice = await register(worker, "alice");
    const viaProtocol = await sockets.open(worker, alice.token, { tokenAs: "subprotocol" });
    expect(viaProtocol.socket.protocol).toBe("edgechat.v1");
    expect(viaProtocol.hello.user).toBe(alice.user);
    // The control for the forged and expired cases below: the key is right.
    const minted = await sockets.open(worker, await tokenFor(alice.user));
    expect(minted.hello.user).toBe(alice.user);
  });

  it("takes the user from the token, never from identity headers the client sent", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token, { headers: { "X-Edgechat-User": bob.user, "X-Edgechat-Device": "spoofed" }, device: "real" });
    expect(a.hello).toMatchObject({ user: alice.user, device: "real" });
  });

  it("refuses a missing, malformed, forged, tampered or expired token with 401 and its code", async () => {
    const alice = await register(worker, "alice");
    const [header, , signature] = alice.token.split(".");
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: "someone_else", exp: 9_999_999_999 })).toString("base64url")}.${signature}`;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: alice.user, exp: 9_999_999_999 })).toString("base64url")}.`;
    const now = Math.floor(Date.now() / 1000);
    const expected: [string | undefined, string][] = [
      [undefined, "unauthorized"],
      ["not-a-token", "token_invalid"],
      [await tokenFor(alice.user, {}, "some-other-secret-of-at-least-32-characters"), "token_invalid"],
      [tampered, "token_invalid"],
      [unsigned, "token_invalid"],
      [await tokenFor(alice.user, { iat: now - 7200, exp: now - 3600 }), "token_expired"],
    ];
    for (const [token, code] of expected) {
      const error = await refused(token);
      expect({ status: error.status, code: error.body?.error.code }).toEqual({ status: 401, code });
    }
  });

  it("refuses a page from another origin with 403 but lets localhost in", async () => {
    const alice = await register(worker, "alice");
    const error = await refused(alice.token, { origin: "https://evil.example" });
    expect(error.status).toBe(403);
    expect(error.body?.error.code).toBe("origin_not_allowed");
    const local = await sockets.open(worker, alice.token, { origin: "http://localhost:5173" });
    expect(local.hello.user).toBe(alice.user);
  });

  it("refuses a malformed device id, and a plain GET, with their codes", async () => {
    const alice = await register(worker, "alice");
    const error = await refused(alice.token, { device: "not a device!" });
    expect({ status: error.status, code: error.body?.error.code }).toEqual({ status: 400, code: "bad_request" });
    const plain = await fetch(`${worker.url}/api/ws?token=${alice.token}`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: "upgrade_required" } });
  });
});

describe("accounts over HTTP", () => {
  it("refuses a taken username, a wrong password and a bad body with their codes", async () => {
    const alice = await register(worker, "alice");
    const taken = await postJson(worker, "/api/register", { username: alice.user, password: "another password" });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ error: { code: "username_taken" } });
    const wrong = await postJson(worker, "/api/login", { username: alice.user, password: "wrong password" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: "invalid_credentials" } });
    const bad = await fetch(`${worker.url}/api/login`, { method: "POST", body: "{" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "bad_request" } });
  });

  it("refuses a body over the limit with 413, with a Content-Length or sent chunked", async () => {
    const credentials = JSON.stringify({ username: freshName("big"), password: "correct horse battery staple" });
    // Trailing whitespace keeps it valid JSON: only the size is wrong.
    const oversized = credentials + " ".repeat(MAX_JSON_BODY_BYTES);
    const declared = await fetch(`${worker.url}/api/register`, { method: "POST", body: oversized });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: { code: "payload_too_large" } });

    // A stream body goes out with Transfer-Encoding: chunked and no Content-Length.
    const chunks = [credentials, ...new Array<string>(MAX_JSON_BODY_BYTES / 1024 + 1).fill(" ".repeat(1024))];
    const chunked = await fetch(`${worker.url}/api/register`, {
      method: "POST",
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(chunk));
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });
});
