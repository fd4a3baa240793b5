/**
 * What moves a user's "last seen": frames flagged as user activity do,
 * background traffic never does; writes to the presence shard are
 * throttled; the last device leaving sets last seen to the last activity.
 */
import { describe, expect, it } from "vitest";
import type { ClientFrame } from "../../../src/protocol";
import { connectReady, waitUntil } from "../helpers";
import { chatting, countShardWrites, query, shardRow, waitForFlush, waitForRow, waitForSockets } from "./support";

/** Frames bob may send in his chat with alice (who wrote him message 1). */
function framesFor(alice: string): Record<string, ClientFrame> {
  return {
    "msg.send": { type: "msg.send", clientId: `c-${crypto.randomUUID()}`, to: alice, text: "reply" },
    "presence.active": { type: "presence.active" },
    "receipt.read": { type: "receipt.read", chat: alice, upto: 1 },
    history: { type: "history", chat: alice },
    sync: { type: "sync" },
    "receipt.delivered": { type: "receipt.delivered", chat: alice, upto: 1 },
    "presence.query": { type: "presence.query", users: [alice] },
    "settings.get": { type: "settings.get" },
  };
}

describe("user activity", () => {
  it.each(["msg.send", "presence.active", "receipt.read", "history"])("%s makes the user online and sets last seen to its time", async (type) => {
    const { alice, bob, a, b } = await chatting();
    expect(await query(a, bob.user)).toMatchObject({ online: false, lastSeen: null, hidden: false });

    const before = Date.now();
    b.send(framesFor(alice.user)[type]!);
    await waitUntil(async () => (await query(a, bob.user)).online, `alice sees bob online after ${type}`);
    const seen = await query(a, bob.user);
    expect(seen.lastSeen).toBeGreaterThanOrEqual(before);
    expect(seen.lastSeen).toBeLessThanOrEqual(Date.now());
  });

  it("is not counted for background traffic: sync, delivery receipts, queries and settings reads", async () => {
    const { alice, bob, a, b } = await chatting();
    for (const type of ["sync", "receipt.delivered", "presence.query", "settings.get"]) b.send(framesFor(alice.user)[type]!);
    await b.barrier();
    const afterBackground = Date.now();
    expect(await shardRow(bob.user)).toBeUndefined();
    expect(await query(a, bob.user)).toMatchObject({ online: false, lastSeen: null });

    // Had any background frame been reported, the throttle would keep its
    // earlier time and this activity would not be written.
    b.send({ type: "presence.active" });
    const row = await waitForRow(bob.user, (r) => r.online === 1, "bob is online");
    expect(row.last_seen).toBeGreaterThanOrEqual(afterBackground);
  });

  it("does not count receiving messages as the recipient's activity", async () => {
    const { bob } = await chatting();
    expect(await shardRow(bob.user)).toBeUndefined();
  });
});

describe("the write throttle", () => {
  it("writes a busy user's last seen once per interval, not once per frame", async () => {
    const { alice, bob, b } = await chatting();
    const writes = await countShardWrites(bob.user);
    b.send({ type: "presence.active" });
    const first = await waitForRow(bob.user, (r) => r.online === 1, "bob's first activity is stored");

    const frames = framesFor(alice.user);
    for (let i = 0; i < 30; i++) {
      b.send(i % 3 === 0 ? frames.history! : frames["presence.active"]!);
      if (i % 10 === 0) await scheduler.wait(5); // let the clock move between frames
    }
    await b.barrier();
    // One more round trip to bob's shard, behind anything bob's object sent it; then its flush.
    await query(b, bob.user);
    const stored = await waitForFlush(bob.user);

    expect(await writes()).toBe(1);
    expect(stored?.last_seen).toBe(first.last_seen);
  });
});

describe("the last device leaving", () => {
  it("sets last seen to the last activity, not to the time of the disconnect", async () => {
    const { bob, b } = await chatting();
    b.send({ type: "presence.active" });
    const active = await waitForRow(bob.user, (r) => r.online === 1, "bob is online");

    await scheduler.wait(50);
    b.send({ type: "sync" }); // background traffic after the last activity
    await b.barrier();
    b.close();

    const gone = await waitForRow(bob.user, (r) => r.online === 0, "bob is offline");
    expect(gone.last_seen).toBe(active.last_seen);
  });

  it("keeps the user online while another device is still connected", async () => {
    const { bob, b } = await chatting();
    const laptop = await connectReady(bob, { device: "laptop" });
    b.send({ type: "presence.active" });
    await waitForRow(bob.user, (r) => r.online === 1, "bob is online");

    b.close();
    await waitForSockets(bob.user, 1);
    // A round trip through bob's object and his shard, behind the close; then its flush.
    await query(laptop, bob.user);
    expect((await waitForFlush(bob.user))?.online).toBe(1);
  });

  it("leaves last seen alone when a device connects in the background and goes away", async () => {
    const { bob, a, b } = await chatting();
    b.send({ type: "presence.active" });
    const active = await waitForRow(bob.user, (r) => r.online === 1, "bob is online");
    b.close();
    await waitForRow(bob.user, (r) => r.online === 0, "bob is offline");

    await scheduler.wait(20);
    const background = await connectReady(bob, { device: "phone-in-pocket" });
    background.send({ type: "sync" });
    await background.barrier();
    expect((await shardRow(bob.user))?.online).toBe(0);
    background.close();
    await waitForSockets(bob.user, 0);
    await query(a, bob.user);
    expect(await waitForFlush(bob.user)).toMatchObject({ online: 0, last_seen: active.last_seen });
  });
});
