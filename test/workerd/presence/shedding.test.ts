/**
 * Load shedding in a user's object under an induced overload: presence and
 * typing are dropped first, receipts wait in their queue, messages flow.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { intVar } from "../../../src/config";
import { costs } from "../../../src/objects/lib/metrics";
import type { UserObject } from "../../../src/objects/user";
import type { ServerFrame } from "../../../src/protocol";
import { inStore, userStub } from "../helpers";
import { chatting } from "./support";

const BUSY_AT = intVar(env.SHED_BUSY_AT, 64);
const OVERLOADED_AT = intVar(env.SHED_OVERLOADED_AT, 256);

/** Pretends `count` pieces of work are in flight in the user's object. */
function induceLoad(user: string, count: number): Promise<string> {
  return runInDurableObject(userStub(user), (instance: UserObject) => {
    for (let i = 0; i < count; i++) instance.load.begin();
    return instance.load.level(Date.now());
  });
}

function isTyping(f: ServerFrame): boolean {
  return f.type === "typing";
}

function readAtPeer(user: string, peer: string): Promise<number> {
  return runInDurableObject(userStub(user), (_instance: UserObject, state) =>
    state.storage.sql.exec<{ read: number }>("SELECT read FROM chats WHERE peer = ?", peer).one().read,
  );
}

describe("an overloaded user object", () => {
  it("drops typing, counting it as shed, and the peer sees none", async () => {
    const { alice, bob, a, b } = await chatting();
    expect(await induceLoad(alice.user, OVERLOADED_AT)).toBe("overloaded");

    const shedBefore = costs.shed;
    a.send({ type: "typing", chat: bob.user, typing: true });
    a.send({ type: "msg.send", ref: "m", clientId: "m", to: bob.user, text: "still flowing" });
    await a.nextOf("msg.sent", "m");
    await b.next((f) => f.type === "msg" && f.message.clientId === "m");
    await b.barrier();
    expect(b.buffered().filter(isTyping)).toEqual([]);
    expect(costs.shed).toBe(shedBefore + 1);
  });

  it("still accepts, stores and delivers messages", async () => {
    const { alice, bob, a, b } = await chatting();
    await induceLoad(alice.user, OVERLOADED_AT * 2);
    a.send({ type: "msg.send", ref: "m", clientId: "m", to: bob.user, text: "festival night" });
    expect(await a.nextOf("msg.sent", "m")).toMatchObject({ seq: 2, duplicate: false });
    expect((await b.nextOf("msg")).message).toMatchObject({ clientId: "m", text: "festival night" });
  });

  it("defers a read receipt to its queue, and the alarm delivers it later", async () => {
    const { alice, bob, a, b } = await chatting();
    expect(await induceLoad(bob.user, OVERLOADED_AT)).toBe("overloaded");

    const start = Date.now();
    b.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    await b.barrier();
    expect(await inStore(bob.user, (store) => store.receiptToSend(alice.user))).toEqual({ delivered: 1, read: 1 });
    expect(await readAtPeer(alice.user, bob.user)).toBe(0);

    const receipt = await a.next((f) => f.type === "receipt" && f.read >= 1, 5_000);
    expect(receipt).toMatchObject({ chat: bob.user, delivered: 1, read: 1 });
    // Deferred by at least a second: the alarm sent it, not the frame.
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
    expect(await inStore(bob.user, (store) => store.receiptToSend(alice.user))).toBeUndefined();
  });

  it("defers delivery receipts the same way", async () => {
    const { alice, bob, a, b } = await chatting();
    await induceLoad(bob.user, OVERLOADED_AT);
    b.send({ type: "receipt.delivered", chat: alice.user, upto: 1 });
    await b.barrier();
    expect(await inStore(bob.user, (store) => store.receiptToSend(alice.user))).toEqual({ delivered: 1, read: 0 });
    expect(await a.next((f) => f.type === "receipt" && f.delivered >= 1, 5_000)).toMatchObject({ delivered: 1, read: 0 });
  });
});

describe("a busy (not yet overloaded) user object", () => {
  it("drops typing but sends receipts at once", async () => {
    const { alice, bob, a, b } = await chatting();
    expect(await induceLoad(bob.user, BUSY_AT)).toBe("busy");

    const shedBefore = costs.shed;
    b.send({ type: "typing", chat: alice.user, typing: true });
    const start = Date.now();
    b.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    expect(await a.next((f) => f.type === "receipt" && f.read >= 1)).toMatchObject({ read: 1 });
    expect(Date.now() - start).toBeLessThan(900);
    await a.barrier();
    expect(a.buffered().filter(isTyping)).toEqual([]);
    expect(costs.shed).toBe(shedBefore + 1);
  });

  it("answers or refuses a settings change rather than losing it silently", async () => {
    const { bob, b } = await chatting();
    await induceLoad(bob.user, BUSY_AT);
    b.send({ type: "settings.set", ref: "s", lastSeen: "nobody" });
    const answer = await b.next((f) => (f.type === "settings" && f.lastSeen === "nobody") || (f.type === "error" && f.ref === "s"));
    if (answer.type === "settings") expect(await inStore(bob.user, (store) => store.settings().lastSeen)).toBe("nobody");
  });

  it("answers a presence query it will not serve, instead of leaving the client waiting", async () => {
    const { alice, bob, b } = await chatting();
    await induceLoad(bob.user, BUSY_AT);
    b.send({ type: "presence.query", ref: "q", users: [alice.user] });
    expect(await b.next((f) => "ref" in f && f.ref === "q")).toMatchObject({ ref: "q" });
  });
});

describe("a user object back to normal load", () => {
  it("passes typing on again", async () => {
    const { alice, bob, a, b } = await chatting();
    await induceLoad(alice.user, OVERLOADED_AT);
    const level = await runInDurableObject(userStub(alice.user), (instance: UserObject) => {
      for (let i = 0; i < OVERLOADED_AT; i++) instance.load.end();
      return instance.load.level(Date.now());
    });
    expect(level).toBe("normal");
    a.send({ type: "typing", chat: bob.user, typing: true });
    expect(await b.next(isTyping)).toMatchObject({ typing: true });
  });
});
