/**
 * Presence subscriptions: a client that opens a chat subscribes to the
 * peer and is pushed changes without polling, until it unsubscribes or its
 * socket closes; the shard's alarm turns "online" into "last seen".
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PresenceObject } from "../../../src/objects/presence";
import { intVar } from "../../../src/config";
import { DEFAULT_MAX_SUBSCRIPTIONS } from "../../../src/objects/user-presence";
import { MAX_PRESENCE_USERS, type PresenceFrame, type ServerFrame } from "../../../src/protocol";
import { connectReady, freshName, register, waitUntil } from "../helpers";
import { chatting, query, shardOf, subscribe, subscribersOf, waitForRow, waitForSockets } from "./support";

/** A pushed presence change (no ref) about `user`. */
function pushAbout(user: string, where: (frame: PresenceFrame) => boolean = () => true) {
  return (f: ServerFrame): f is PresenceFrame => f.type === "presence" && f.ref === undefined && f.user === user && where(f);
}

function shardAlarm(user: string): Promise<number | null> {
  return runInDurableObject(shardOf(user), (_instance: PresenceObject, state) => state.storage.getAlarm());
}

/** Moves the user's stored activity back in time, as if `ms` had passed since, once the shard has written it. */
async function backdate(user: string, ms: number): Promise<void> {
  await waitForRow(user, (r) => r.online === 1, `${user}'s activity is written`);
  await runInDurableObject(shardOf(user), (_instance: PresenceObject, state) => {
    state.storage.sql.exec("UPDATE presence SET last_seen = last_seen - ? WHERE user = ?", ms, user);
  });
}

describe("presence.subscribe", () => {
  it("answers with the peer's current state and registers the subscriber with the peer's shard", async () => {
    const { alice, bob, a, b } = await chatting();
    b.send({ type: "presence.active" });
    const row = await waitForRow(bob.user, (r) => r.online === 1, "bob is online");

    expect(await subscribe(a, bob.user)).toEqual({ type: "presence", ref: expect.any(String), user: bob.user, online: true, lastSeen: row.last_seen, hidden: false });
    expect(await subscribersOf(bob.user)).toEqual([alice.user]);
  });

  it("pushes the peer coming online, then going away with last seen at their last activity", async () => {
    const { bob, a, b } = await chatting();
    expect(await subscribe(a, bob.user)).toMatchObject({ online: false, lastSeen: null });

    b.send({ type: "presence.active" });
    const online = await a.next(pushAbout(bob.user, (f) => f.online));
    expect(online.lastSeen).toEqual(expect.any(Number));

    b.close();
    const away = await a.next(pushAbout(bob.user, (f) => !f.online));
    expect(away).toMatchObject({ online: false, lastSeen: online.lastSeen, hidden: false });
  });

  it("pushes to every device of the subscriber that subscribed, and only those", async () => {
    const { alice, bob, a, b } = await chatting();
    const tablet = await connectReady(alice, { device: "tablet" });
    await subscribe(a, bob.user);

    b.send({ type: "presence.active" });
    await a.next(pushAbout(bob.user, (f) => f.online));
    await tablet.barrier();
    expect(tablet.buffered().filter((f) => f.type === "presence")).toEqual([]);
  });
});

describe("the online threshold", () => {
  it("turns online into last seen when the shard's alarm finds no activity within the threshold, and pushes it", async () => {
    const { bob, a, b } = await chatting();
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    const online = await a.next(pushAbout(bob.user, (f) => f.online));

    await backdate(bob.user, 60_000);
    expect(await runDurableObjectAlarm(shardOf(bob.user))).toBe(true);
    const away = await a.next(pushAbout(bob.user, (f) => !f.online));
    expect(away.lastSeen).toBe(online.lastSeen! - 60_000);
    expect((await waitForRow(bob.user, () => true, "bob's row")).online).toBe(0);
  });

  it("answers a query truthfully between the threshold passing and the alarm running", async () => {
    const { bob, a, b } = await chatting();
    b.send({ type: "presence.active" });
    await waitForRow(bob.user, (r) => r.online === 1, "bob is online");
    await backdate(bob.user, 60_000);
    expect(await query(a, bob.user)).toMatchObject({ online: false, lastSeen: expect.any(Number) });
  });

  it("leaves users who were active within the threshold online, and keeps an alarm for them", async () => {
    const { bob, a, b } = await chatting();
    b.send({ type: "presence.active" });
    await waitForRow(bob.user, (r) => r.online === 1, "bob is online");
    await waitUntil(async () => (await shardAlarm(bob.user)) !== null, "bob's shard has an alarm");

    expect(await runDurableObjectAlarm(shardOf(bob.user))).toBe(true);
    expect(await query(a, bob.user)).toMatchObject({ online: true });
    expect(await shardAlarm(bob.user)).toBeGreaterThan(Date.now());
  });

  it("pushes online again when a user who went away comes back", async () => {
    const { bob, a, b } = await chatting();
    await subscribe(a, bob.user);
    b.send({ type: "presence.active" });
    await a.next(pushAbout(bob.user, (f) => f.online));
    await backdate(bob.user, 60_000);
    await runDurableObjectAlarm(shardOf(bob.user));
    await a.next(pushAbout(bob.user, (f) => !f.online));

    // Bob's object wrote a moment ago, so its throttle holds; a new device starts afresh.
    b.close();
    await waitForSockets(bob.user, 0);
    const phone = await connectReady(bob, { device: "phone" });
    phone.send({ type: "presence.active" });
    const back = await a.next(pushAbout(bob.user, (f) => f.online));
    expect(back.hidden).toBe(false);
  });
});

describe("ending a subscription", () => {
  it("presence.unsubscribe removes the subscriber and stops the pushes", async () => {
    const { bob, a, b } = await chatting();
    await subscribe(a, bob.user);
    a.send({ type: "presence.unsubscribe", users: [bob.user] });
    await waitUntil(async () => (await subscribersOf(bob.user)).length === 0, "bob's shard forgets alice");

    b.send({ type: "presence.active" });
    await waitForRow(bob.user, (r) => r.online === 1, "bob is online");
    // Awaited: the shard has pushed to every subscriber when this returns.
    await shardOf(bob.user).report(bob.user, { offline: {} });
    await a.barrier();
    expect(a.buffered().filter((f) => f.type === "presence")).toEqual([]);
  });

  it("closing the socket ends its subscriptions", async () => {
    const { alice, bob, a } = await chatting();
    await subscribe(a, bob.user);
    expect(await subscribersOf(bob.user)).toEqual([alice.user]);
    a.close();
    await waitForSockets(alice.user, 0);
    expect(await subscribersOf(bob.user)).toEqual([]);
  });

  it("keeps the subscription while another socket of the subscriber still holds it", async () => {
    const { alice, bob, a } = await chatting();
    const tablet = await connectReady(alice, { device: "tablet" });
    await subscribe(a, bob.user);
    await subscribe(tablet, bob.user);

    a.close();
    await waitForSockets(alice.user, 1);
    expect(await subscribersOf(bob.user)).toEqual([alice.user]);
    await shardOf(bob.user).report(bob.user, { activeAt: Date.now() });
    expect(await tablet.next(pushAbout(bob.user, (f) => f.online))).toMatchObject({ online: true });

    tablet.send({ type: "presence.unsubscribe", users: [bob.user] });
    await waitUntil(async () => (await subscribersOf(bob.user)).length === 0, "bob's shard forgets alice");
  });
});

describe("the subscription cap", () => {
  const CAP = intVar(env.PRESENCE_MAX_SUBSCRIPTIONS, DEFAULT_MAX_SUBSCRIPTIONS);
  /** `count` usernames nobody has (following them stores a subscription all the same). */
  const names = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}_${i}`);

  it("refuses a presence.subscribe past PRESENCE_MAX_SUBSCRIPTIONS with too_many_subscriptions, subscribing none of it", async () => {
    const alice = await register("alice");
    const a = await connectReady(alice);
    const tag = freshName("p");
    for (let i = 0; i < CAP; i += MAX_PRESENCE_USERS) {
      a.send({ type: "presence.subscribe", ref: `s${i}`, users: names(tag, CAP).slice(i, i + MAX_PRESENCE_USERS) });
      await a.nextOf("presence", `s${i}`);
    }
    a.send({ type: "presence.subscribe", ref: "over", users: [`${tag}_over`, `${tag}_0`] });
    expect(await a.nextOf("error", "over")).toMatchObject({ code: "too_many_subscriptions" });
    expect(await subscribersOf(`${tag}_over`)).toEqual([]);
    // Users already followed can be asked for again: they do not count twice.
    a.send({ type: "presence.subscribe", ref: "again", users: [`${tag}_0`] });
    expect(await a.nextOf("presence", "again")).toMatchObject({ user: `${tag}_0` });
  });

  it("counts per socket, and an unsubscribe makes room", async () => {
    const alice = await register("alice");
    const [phone, laptop] = await Promise.all([connectReady(alice, { device: "phone" }), connectReady(alice, { device: "laptop" })]);
    const tag = freshName("p");
    for (let i = 0; i < CAP; i += MAX_PRESENCE_USERS) {
      phone.send({ type: "presence.subscribe", ref: `s${i}`, users: names(tag, CAP).slice(i, i + MAX_PRESENCE_USERS) });
      await phone.nextOf("presence", `s${i}`);
    }
    laptop.send({ type: "presence.subscribe", ref: "l", users: [`${tag}_new`] });
    expect(await laptop.nextOf("presence", "l")).toMatchObject({ user: `${tag}_new` });
    phone.send({ type: "presence.unsubscribe", users: [`${tag}_0`] });
    phone.send({ type: "presence.subscribe", ref: "room", users: [`${tag}_new`] });
    expect(await phone.nextOf("presence", "room")).toMatchObject({ user: `${tag}_new` });
  });
});
