/**
 * Presence against the running worker, with short thresholds so real time
 * can pass: "online" lasts 1.5 s after activity, last seen is written at most
 * every 0.5 s, and sends are limited to 5 a second with a burst of 5.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { presenceShard } from "../../src/objects/lib/shard";
import type { PresenceFrame, ServerFrame } from "../../src/protocol";
import { startWorker, type RunningWorker } from "./harness";
import { type Account, type Client, expectType, freshName, is, PASSWORD, postJson, register, sendText, socketPool } from "./support";

const ONLINE_MS = 1_500;
const WRITE_INTERVAL_MS = 500;
const SEND_RATE = 5;
const SEND_BURST = 5;
const SHARDS = 16;

let worker: RunningWorker;
const sockets = socketPool();
beforeAll(async () => {
  worker = await startWorker({
    vars: {
      PRESENCE_ONLINE_MS: String(ONLINE_MS),
      PRESENCE_WRITE_INTERVAL_MS: String(WRITE_INTERVAL_MS),
      PRESENCE_SHARDS: String(SHARDS),
      SEND_RATE_PER_SEC: String(SEND_RATE),
      SEND_BURST: String(SEND_BURST),
    },
  });
});
afterEach(() => sockets.closeAll());
afterAll(() => worker?.stop());

/** A pushed change (no ref) about `user`. */
function pushAbout(user: string, where: (f: PresenceFrame) => boolean = () => true) {
  return (f: ServerFrame): f is PresenceFrame => f.type === "presence" && f.ref === undefined && f.user === user && where(f);
}

async function open(account: Account, device?: string): Promise<Client> {
  return sockets.open(worker, account.token, device === undefined ? {} : { device });
}

async function query(client: Client, user: string): Promise<PresenceFrame> {
  return expectType(await client.request({ type: "presence.query", users: [user] }), "presence");
}

async function subscribe(client: Client, user: string): Promise<PresenceFrame> {
  return expectType(await client.request({ type: "presence.subscribe", users: [user] }), "presence");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Registers a user whose name hashes to the given presence shard. */
async function registerOnShard(shard: number, prefix: string): Promise<Account> {
  let username = freshName(prefix);
  while (presenceShard(username, SHARDS) !== shard) username = freshName(prefix);
  const res = await postJson(worker, "/api/register", { username, password: PASSWORD });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status}`);
  return (await res.json()) as Account;
}

describe("online and last seen", () => {
  it("is online after activity, and pushed as last seen at that time once the threshold passes without any", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    expect(await subscribe(a, bob.user)).toMatchObject({ online: false, lastSeen: null });

    b.send({ type: "presence.active" });
    const online = await a.next(pushAbout(bob.user, (f) => f.online));
    const activeAt = online.lastSeen!;

    // Bob stays connected but does nothing: no polling, the change is pushed.
    const away = await a.next(pushAbout(bob.user, (f) => !f.online), ONLINE_MS + 5_000);
    expect(Date.now()).toBeGreaterThanOrEqual(activeAt + ONLINE_MS);
    expect(away).toMatchObject({ online: false, lastSeen: activeAt, hidden: false });
    expect(await query(a, bob.user)).toMatchObject({ online: false, lastSeen: activeAt });
  });

  it("pushes online again when the user comes back", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    await a.next(pushAbout(bob.user, (f) => f.online));
    const away = await a.next(pushAbout(bob.user, (f) => !f.online), ONLINE_MS + 5_000);

    b.send({ type: "presence.active" });
    const back = await a.next(pushAbout(bob.user, (f) => f.online));
    expect(back.lastSeen).toBeGreaterThan(away.lastSeen!);
  });

  it("keeps a user who stays active online past the threshold", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    await a.next(pushAbout(bob.user, (f) => f.online));

    // The app reports activity regularly while the user is on screen.
    for (let elapsed = 0; elapsed < ONLINE_MS * 2; elapsed += 250) {
      b.send({ type: "presence.active" });
      await sleep(250);
    }
    expect(a.received.filter(pushAbout(bob.user, (f) => !f.online))).toEqual([]);
    expect(await query(a, bob.user)).toMatchObject({ online: true });
  });

  it("expires every user of a shard in turn, not only the first one due", async () => {
    const shard = presenceShard(freshName("any"), SHARDS);
    const [alice, bob, carol] = await Promise.all([register(worker, "alice"), registerOnShard(shard, "bob"), registerOnShard(shard, "carol")]);
    const [a, b, c] = await Promise.all([open(alice), open(bob), open(carol)]);
    await subscribe(a, bob.user);
    await subscribe(a, carol.user);

    b.send({ type: "presence.active" });
    await a.next(pushAbout(bob.user, (f) => f.online));
    await sleep(ONLINE_MS / 2);
    c.send({ type: "presence.active" });
    await a.next(pushAbout(carol.user, (f) => f.online));

    await a.next(pushAbout(bob.user, (f) => !f.online), ONLINE_MS + 5_000);
    await a.next(pushAbout(carol.user, (f) => !f.online), ONLINE_MS + 5_000);
  });

  it("sets last seen to the last activity when the last device disconnects, not to the disconnect", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    const activeAt = (await a.next(pushAbout(bob.user, (f) => f.online))).lastSeen!;

    // Background traffic for longer than the write interval, then the app goes away.
    for (let i = 0; i < 2; i++) {
      await b.request({ type: "sync" });
      await sleep(WRITE_INTERVAL_MS * 0.6);
    }
    await b.close();
    const away = await a.next(pushAbout(bob.user, (f) => !f.online));
    expect(away.lastSeen).toBe(activeAt);
    // Pushed by the disconnect, before the threshold would have expired it.
    expect(Date.now()).toBeLessThan(activeAt + ONLINE_MS);
  });

  it("does not make a user online for a connection that only syncs in the background", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await open(alice);
    await subscribe(a, bob.user);
    const b = await open(bob, "background");
    await b.request({ type: "sync" });
    await b.close();
    expect(await query(a, bob.user)).toMatchObject({ online: false, lastSeen: null });
    expect(a.received.filter(pushAbout(bob.user))).toEqual([]);
  });
});

describe("the write throttle", () => {
  it("keeps the first time of a burst of activity through the interval, then reports the burst's newest", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    const first = (await a.next(pushAbout(bob.user, (f) => f.online))).lastSeen!;

    await sleep(WRITE_INTERVAL_MS / 10);
    // History of a chat bob does not have is refused, but opening it is still activity.
    for (let i = 0; i < 5; i++) await b.request({ type: "history", chat: alice.user });
    const burstEnd = Date.now();
    expect(burstEnd, "the burst must fit in one write interval").toBeLessThan(first + WRITE_INTERVAL_MS);
    expect((await query(a, bob.user)).lastSeen).toBe(first);

    // The interval's one report carries the burst's newest activity: bob did not stop at `first`.
    let later = first;
    const deadline = Date.now() + 3_000;
    while (later === first && Date.now() < deadline) {
      await sleep(WRITE_INTERVAL_MS / 10); // polling slower than alice's frame budget
      later = (await query(a, bob.user)).lastSeen!;
    }
    expect(later).toBeGreaterThan(first);
    expect(later).toBeLessThanOrEqual(burstEnd);
  });
});

describe("presence.unsubscribe", () => {
  it("stops the pushes to the client that unsubscribed, while others still get them", async () => {
    const [alice, bob, carol] = await Promise.all([register(worker, "alice"), register(worker, "bob"), register(worker, "carol")]);
    const [a, b, c] = await Promise.all([open(alice), open(bob), open(carol)]);
    await subscribe(a, bob.user);
    await subscribe(c, bob.user);
    a.send({ type: "presence.unsubscribe", users: [bob.user] });
    await a.request({ type: "sync" }); // the socket's subscription is dropped before this is answered

    b.send({ type: "presence.active" });
    await c.next(pushAbout(bob.user, (f) => f.online));
    await a.request({ type: "sync" });
    expect(a.received.filter(pushAbout(bob.user))).toEqual([]);
  });
});

describe("the send rate limit", () => {
  it("accepts the burst, refuses the next with the exact wait for one token, and accepts after it", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await open(alice);
    const answers = await Promise.all(Array.from({ length: SEND_BURST + 1 }, (_, i) => a.request({ type: "msg.send", clientId: `b${i}`, to: bob.user, text: `${i}` })));
    expect(answers.slice(0, SEND_BURST).map((f) => f.type)).toEqual(new Array(SEND_BURST).fill("msg.sent"));
    const refusal = expectType(answers[SEND_BURST]!, "error");
    expect(refusal.code).toBe("rate_limited");
    // One token takes 1000 / rate ms; the burst took some of that already.
    expect(refusal.retryAfterMs).toBeGreaterThan(0);
    expect(refusal.retryAfterMs).toBeLessThanOrEqual(1_000 / SEND_RATE);
    expect(refusal.resendFirst).toBe(`b${SEND_BURST}`);

    // A newer message waits behind the refused one, whatever the tokens; the refused one goes after the wait.
    expect(expectType(await a.request({ type: "msg.send", clientId: "newer", to: bob.user, text: "newer" }), "error")).toMatchObject({ code: "rate_limited", resendFirst: `b${SEND_BURST}` });
    await sleep(refusal.retryAfterMs!);
    expect(expectType(await a.request({ type: "msg.send", clientId: `b${SEND_BURST}`, to: bob.user, text: `${SEND_BURST}` }), "msg.sent").duplicate).toBe(false);
  });

  it("holds a flooding user to the rate over time while another user sends unhindered", async () => {
    const [alice, carol, bob] = await Promise.all([register(worker, "alice"), register(worker, "carol"), register(worker, "bob")]);
    const [a, c] = await Promise.all([open(alice), open(carol)]);
    const started = Date.now();
    let accepted = 0;
    let i = 0;
    const flood = (async () => {
      // Resends a refused message before anything newer, as the SDK does (rate_limited's resendFirst).
      let next = 0;
      while (Date.now() - started < 2_000) {
        i++;
        const answer = await a.request({ type: "msg.send", clientId: `f${next}`, to: bob.user, text: "flood" });
        if (answer.type === "msg.sent") {
          accepted++;
          next++;
        } else expect(answer).toMatchObject({ type: "error", code: "rate_limited", resendFirst: `f${next}` });
        await sleep(20);
      }
    })();
    const steady = (async () => {
      const sent = [];
      for (let j = 0; j < SEND_BURST; j++) {
        sent.push(await sendText(c, bob.user, `steady ${j}`));
        await sleep(250);
      }
      return sent;
    })();
    const [, carolSent] = await Promise.all([flood, steady]);
    const elapsed = (Date.now() - started) / 1_000;
    expect(carolSent).toHaveLength(SEND_BURST);
    expect(i).toBeGreaterThan(accepted * 2);
    expect(accepted).toBeGreaterThanOrEqual(SEND_BURST + Math.floor(SEND_RATE * 2) - 1);
    expect(accepted).toBeLessThanOrEqual(SEND_BURST + Math.ceil(SEND_RATE * elapsed) + 1);

    const page = expectType(await a.request({ type: "sync", after: 0 }), "sync.page");
    expect(page.messages.filter((m) => m.from === alice.user)).toHaveLength(accepted);
  });
});

describe("typing", () => {
  it("reaches the peer over a real socket with a time to live", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    await sendText(a, bob.user, "hi");
    await b.next(is("msg"));
    a.send({ type: "typing", chat: bob.user, typing: true });
    expect(await b.next(is("typing"))).toMatchObject({ from: alice.user, chat: alice.user, typing: true, ttlMs: expect.any(Number) });
  });
});
