import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EdgechatClient, EdgechatHttpError, MemoryStorage, type ClientOptions, type Session, type WebSocketConstructor } from "../../src/client";
import { startProxy, type NetworkProxy } from "./client-proxy";
import { untilClients } from "./client-wait";
import { removeDir, startWorker, type RunningWorker } from "./harness";

let worker: RunningWorker;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  worker = await startWorker();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await worker?.stop();
  if (worker) removeDir(worker.persistDir);
});

// ---- helpers ---------------------------------------------------------------------

const PASSWORD = "correct horse battery";

function freshName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

async function signUp(url: string, prefix: string): Promise<Session> {
  return EdgechatClient.register(url, freshName(prefix), PASSWORD);
}

/** A client with quick reconnects and heartbeat, closed after the test. */
function open(url: string, session: Session, options: Partial<ClientOptions> = {}): EdgechatClient {
  const client = new EdgechatClient({
    url,
    token: session.token,
    reconnect: { baseMs: 50, maxMs: 500, stableMs: 2_000, connectTimeoutMs: 3_000 },
    heartbeat: { intervalMs: 500, timeoutMs: 500 },
    ...options,
  });
  cleanups.push(() => client.close());
  return client;
}

async function proxyTo(url: string): Promise<NetworkProxy> {
  const proxy = await startProxy(url);
  cleanups.push(() => proxy.close());
  return proxy;
}

/** Node's WebSocket, recording the frames the client sends. */
function recordingWebSocket(sent: Record<string, unknown>[]): WebSocketConstructor {
  const node: unknown = Reflect.get(globalThis, "WebSocket");
  const Base = node as WebSocketConstructor;
  return class extends Base {
    override send(data: string): void {
      if (data !== "ping") sent.push(JSON.parse(data) as Record<string, unknown>);
      super.send(data);
    }
  };
}

function synced(client: EdgechatClient): Promise<void> {
  return untilClients("the client synced", [client], () => client.status === "open" && client.rev !== undefined);
}

function texts(client: EdgechatClient, chat: string, text?: string): string[] {
  return (client.chat(chat)?.messages ?? []).map((m) => m.text).filter((t) => text === undefined || t === text);
}

// ---- tests -----------------------------------------------------------------------

describe("accounts over HTTP", () => {
  it("registers and logs in, and reports refusals as typed errors", async () => {
    const session = await signUp(worker.url, "carol");
    expect(session.token).toMatch(/^ey/);
    const again = await EdgechatClient.login(worker.url, session.user, PASSWORD);
    expect(again.user).toBe(session.user);

    const taken = await EdgechatClient.register(worker.url, session.user, PASSWORD).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(EdgechatHttpError);
    expect(taken).toMatchObject({ status: 409, code: "username_taken" });
    const wrong = await EdgechatClient.login(worker.url, session.user, "not the password").catch((e: unknown) => e);
    expect(wrong).toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("logs out everywhere: the open client is disconnected and the token is refused from then on", async () => {
    const session = await signUp(worker.url, "leaver");
    const client = open(worker.url, session);
    const errors: Error[] = [];
    client.on("error", (err) => errors.push(err));
    await synced(client);
    await EdgechatClient.logout(worker.url, session.token);
    await untilClients("the client lost its socket", [client], () => client.status !== "open");
    // Told why, so an app can sign out rather than reconnect in vain.
    await untilClients("the client heard why", [client], () => errors.some((e) => e instanceof EdgechatHttpError && e.code === "token_revoked"));
    const again = await EdgechatClient.logout(worker.url, session.token).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 401, code: "token_revoked" });
    expect((await EdgechatClient.login(worker.url, session.user, PASSWORD)).user).toBe(session.user);
  });

  it("changes the password and continues on the session it answers", async () => {
    const session = await signUp(worker.url, "mover");
    const wrong = await EdgechatClient.changePassword(worker.url, session.token, "not the password", "a new long password").catch((e: unknown) => e);
    expect(wrong).toMatchObject({ status: 401, code: "invalid_credentials" });
    const changed = await EdgechatClient.changePassword(worker.url, session.token, PASSWORD, "a new long password");
    expect(changed.user).toBe(session.user);
    await synced(open(worker.url, changed));
    const old = await EdgechatClient.login(worker.url, session.user, PASSWORD).catch((e: unknown) => e);
    expect(old).toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("reports a logout that cannot reach the server as a network error, for the caller to sign out locally", async () => {
    const session = await signUp(worker.url, "offline");
    const offline = await EdgechatClient.logout("http://127.0.0.1:1", session.token).catch((e: unknown) => e);
    expect(offline).toMatchObject({ status: 0, code: "network" });
  });
});

describe("two clients chatting", () => {
  it("shows the sender's ticks going sent, delivered, read", async () => {
    const [a, b] = await Promise.all([signUp(worker.url, "alice"), signUp(worker.url, "bob")]);
    const alice = open(worker.url, a);
    const bob = open(worker.url, b);
    await Promise.all([synced(alice), synced(bob)]);

    const ticks: string[] = [];
    alice.on("change", () => {
      const status = alice.chat(b.user)?.messages.find((m) => m.text === "hello bob")?.status;
      if (status && ticks.at(-1) !== status) ticks.push(status);
    });
    const sent = await alice.send(b.user, "hello bob");
    expect(sent).toMatchObject({ from: a.user, to: b.user, mine: true, seq: 1 });

    await untilClients("bob has the message", [bob], () => texts(bob, a.user, "hello bob").length === 1);
    expect(bob.unread(a.user)).toBe(1);
    // Bob's client acknowledged delivery by itself.
    await untilClients("alice sees delivered", [alice], () => sent.status === "delivered");

    bob.markRead(a.user);
    await untilClients("alice sees read", [alice], () => sent.status === "read");
    await untilClients("bob's unread count clears", [bob], () => bob.unread(a.user) === 0);
    expect(ticks).toEqual(["pending", "sent", "delivered", "read"]);
    expect(texts(bob, a.user)).toEqual(["hello bob"]);
  });

  it("resumes from its cursor and receives what it missed, in order and once", async () => {
    const [a, b] = await Promise.all([signUp(worker.url, "alice"), signUp(worker.url, "bob")]);
    const proxy = await proxyTo(worker.url);
    const bobSent: Record<string, unknown>[] = [];
    const alice = open(worker.url, a);
    const bob = open(proxy.url, b, { WebSocket: recordingWebSocket(bobSent) });
    await Promise.all([synced(alice), synced(bob)]);
    await alice.send(b.user, "one");
    await untilClients("bob has the first message", [bob], () => texts(bob, a.user).length === 1);

    proxy.setOffline(true);
    await untilClients("bob is disconnected", [bob], () => bob.status !== "open");
    const cursor = bob.rev;
    for (const text of ["two", "three", "four"]) await alice.send(b.user, text);
    proxy.setOffline(false);

    await untilClients("bob caught up", [bob], () => texts(bob, a.user).length === 4);
    expect(texts(bob, a.user)).toEqual(["one", "two", "three", "four"]);
    expect(bob.rev).toBeGreaterThan(cursor ?? Infinity);
    const syncs = bobSent.filter((f) => f.type === "sync");
    expect(syncs[0]).not.toHaveProperty("after");
    expect(syncs[1]).toMatchObject({ after: cursor });
    await untilClients("alice sees all delivered", [alice], () => alice.chat(b.user)?.messages.every((m) => m.status === "delivered") === true);
  });

  it("keeps a message sent while offline in the outbox and sends it on reconnect", async () => {
    const [a, b] = await Promise.all([signUp(worker.url, "alice"), signUp(worker.url, "bob")]);
    const proxy = await proxyTo(worker.url);
    const alice = open(proxy.url, a);
    const bob = open(worker.url, b);
    await Promise.all([synced(alice), synced(bob)]);

    proxy.setOffline(true);
    await untilClients("alice is disconnected", [alice], () => alice.status !== "open");
    const sending = alice.send(b.user, "typed offline");
    await untilClients("the message is pending", [alice], () => alice.chat(b.user)?.messages[0]?.status === "pending");
    expect(alice.outbox()).toMatchObject([{ to: b.user, text: "typed offline" }]);

    proxy.setOffline(false);
    const sent = await sending;
    expect(sent.id).toBeTruthy();
    expect(alice.outbox()).toEqual([]);
    await untilClients("bob has it", [bob], () => texts(bob, a.user, "typed offline").length === 1);
  });

  it("sends what a closed client left in the outbox from the next client on the same storage", async () => {
    const [a, b] = await Promise.all([signUp(worker.url, "alice"), signUp(worker.url, "bob")]);
    const proxy = await proxyTo(worker.url);
    proxy.setOffline(true);
    const storage = new MemoryStorage();
    const first = open(proxy.url, a, { storage });
    const lost = first.send(b.user, "left behind");
    await untilClients("it is stored", [first], () => first.outbox().length === 1);
    first.close();
    await expect(lost).rejects.toThrow(/closed/);

    proxy.setOffline(false);
    const bob = open(worker.url, b);
    const second = open(proxy.url, a, { storage });
    await untilClients("bob has it", [bob], () => texts(bob, a.user, "left behind").length === 1);
    await untilClients("the outbox is empty", [second], () => second.outbox().length === 0);
    expect(await storage.load()).toEqual([]);
  });

  it("detects a dead connection by heartbeat and resends an unacknowledged message, stored once", async () => {
    const [a, b] = await Promise.all([signUp(worker.url, "alice"), signUp(worker.url, "bob")]);
    const proxy = await proxyTo(worker.url);
    const alice = open(proxy.url, a);
    const bob = open(worker.url, b);
    await Promise.all([synced(alice), synced(bob)]);
    const statuses: string[] = [];
    alice.on("status", (s) => statuses.push(s));

    // The send reaches the server, but neither its acknowledgement nor any pong comes back.
    proxy.silenceExisting();
    const sending = alice.send(b.user, "ack lost");
    await untilClients("bob has it", [bob], () => texts(bob, a.user, "ack lost").length === 1);
    const sent = await sending;

    expect(statuses).toContain("connecting");
    expect(alice.chat(b.user)?.messages.filter((m) => m.clientId === sent.clientId)).toHaveLength(1);
    const page = await bob.history(a.user);
    expect(page.messages.map((m) => m.text)).toEqual(["ack lost"]);
  });
});

describe("a server restart", () => {
  let own: RunningWorker | undefined;
  afterEach(async () => {
    await own?.stop();
    if (own) removeDir(own.persistDir);
    own = undefined;
  });

  it("is survived: the client reconnects by itself and a message queued while down is delivered once", async () => {
    own = await startWorker();
    const proxy = await proxyTo(own.url);
    const [a, b] = await Promise.all([signUp(proxy.url, "alice"), signUp(proxy.url, "bob")]);
    const alice = open(proxy.url, a);
    const bob = open(proxy.url, b);
    await Promise.all([synced(alice), synced(bob)]);
    await alice.send(b.user, "before");
    await untilClients("bob has the first message", [bob], () => texts(bob, a.user).length === 1);
    let bobSawQueued = 0;
    bob.on("message", (m) => m.text === "queued while down" && bobSawQueued++);

    await own.stop();
    await untilClients("both clients noticed", [alice, bob], () => alice.status !== "open" && bob.status !== "open");
    const sending = alice.send(b.user, "queued while down");
    await untilClients("it waits in the outbox", [alice], () => alice.outbox().length === 1);

    own = await startWorker({ persistDir: own.persistDir });
    proxy.setTarget(own.url);
    const sent = await sending;
    expect(sent.seq).toBe(2);
    await untilClients("bob has it", [bob], () => texts(bob, a.user, "queued while down").length === 1);
    await untilClients("alice sees it delivered", [alice], () => sent.status === "delivered");

    expect(texts(bob, a.user)).toEqual(["before", "queued while down"]);
    expect(bobSawQueued).toBe(1);
    const page = await bob.history(a.user);
    expect(page.messages.map((m) => m.text)).toEqual(["before", "queued while down"]);
  });
});
