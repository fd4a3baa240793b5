/**
 * Who may see a user's last seen and online status (everyone / contacts /
 * nobody, with WhatsApp's reciprocity rule), and read receipts turned off.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UserObject } from "../../../src/objects/user";
import type { PresenceFrame, ServerFrame } from "../../../src/protocol";
import { type Client, connectReady, inStore, register, userStub, waitUntil } from "../helpers";
import { chatting, query, setLastSeen, shardOf, strangers, subscribe, waitForRow } from "./support";

const HIDDEN = { online: false, lastSeen: null, hidden: true };

/** The user does something on this device; returns the last seen their shard stored. */
async function beActive(client: Client, user: string): Promise<number> {
  client.send({ type: "presence.active" });
  return (await waitForRow(user, (r) => r.online === 1, `${user} is online`)).last_seen!;
}

function isPresence(f: ServerFrame): f is PresenceFrame {
  return f.type === "presence";
}

describe("settings", () => {
  it("default to last seen for everyone and read receipts on, and change on settings.set", async () => {
    const { a } = await strangers();
    a.send({ type: "settings.get", ref: "g" });
    expect(await a.nextOf("settings", "g")).toEqual({ type: "settings", ref: "g", lastSeen: "everyone", readReceipts: true });
    a.send({ type: "settings.set", lastSeen: "contacts", readReceipts: false });
    expect(await a.nextOf("settings")).toEqual({ type: "settings", lastSeen: "contacts", readReceipts: false });
    a.send({ type: "settings.get", ref: "g2" });
    expect(await a.nextOf("settings", "g2")).toMatchObject({ lastSeen: "contacts", readReceipts: false });
  });

  it("reach the user's other devices", async () => {
    const { alice, a } = await strangers();
    const tablet = await connectReady(alice, { device: "tablet" });
    a.send({ type: "settings.set", lastSeen: "nobody" });
    expect(await tablet.nextOf("settings")).toMatchObject({ lastSeen: "nobody", readReceipts: true });
  });
});

describe("last seen visibility", () => {
  it("everyone: a stranger sees online and last seen", async () => {
    const { bob, a, b } = await strangers();
    const lastSeen = await beActive(b, bob.user);
    expect(await query(a, bob.user)).toMatchObject({ online: true, lastSeen, hidden: false });
  });

  it("nobody: even a contact sees neither online nor last seen", async () => {
    const { bob, a, b } = await chatting();
    await setLastSeen(b, bob.user, "nobody");
    await beActive(b, bob.user);
    expect(await query(a, bob.user)).toMatchObject(HIDDEN);
  });

  it("contacts: someone with a chat with the user sees it, a stranger does not", async () => {
    const { bob, a, b } = await chatting();
    const stranger = await connectReady(await register("carol"));
    await setLastSeen(b, bob.user, "contacts");
    const lastSeen = await beActive(b, bob.user);
    expect(await query(a, bob.user)).toMatchObject({ online: true, lastSeen, hidden: false });
    expect(await query(stranger, bob.user)).toMatchObject(HIDDEN);
  });

  it("contacts: someone the user wrote to counts as a contact too", async () => {
    const { alice, bob, a, b } = await chatting();
    // Alice wrote to bob; bob has a chat with alice, so she may see his.
    await setLastSeen(a, alice.user, "contacts");
    const lastSeen = await beActive(a, alice.user);
    expect(await query(b, alice.user)).toMatchObject({ online: true, lastSeen, hidden: false });
  });

  it("contacts: a stranger who then starts a chat with the user can see it", async () => {
    const { alice, bob, a, b } = await strangers();
    await setLastSeen(b, bob.user, "contacts");
    await beActive(b, bob.user);
    expect(await query(a, bob.user)).toMatchObject(HIDDEN);

    a.send({ type: "msg.send", ref: "m", clientId: "m1", to: bob.user, text: "hi, we met yesterday" });
    await a.nextOf("msg.sent", "m");
    await b.nextOf("msg");
    expect(await runInDurableObject(userStub(bob.user), (instance: UserObject) => instance.isContact(alice.user))).toBe(true);
    expect(await query(a, bob.user)).toMatchObject({ online: true, hidden: false });
  });

  it("reciprocity: a user who hides their own last seen sees no one's", async () => {
    const { alice, bob, a, b } = await chatting();
    await beActive(b, bob.user);
    expect(await query(a, bob.user)).toMatchObject({ online: true, hidden: false });
    await setLastSeen(a, alice.user, "nobody");
    expect(await query(a, bob.user)).toMatchObject(HIDDEN);
    await setLastSeen(a, alice.user, "everyone");
    expect(await query(a, bob.user)).toMatchObject({ online: true, hidden: false });
  });

  it("a user always sees their own", async () => {
    const { alice, a } = await strangers();
    await setLastSeen(a, alice.user, "nobody");
    a.send({ type: "presence.active" });
    await waitForRow(alice.user, (r) => r.online === 1, "alice is online");
    expect(await query(a, alice.user)).toMatchObject({ online: true, hidden: false });
  });

  it("applies to pushes: a subscriber is pushed hidden when the user hides their last seen", async () => {
    const { bob, a, b } = await chatting();
    await beActive(b, bob.user);
    expect(await subscribe(a, bob.user)).toMatchObject({ online: true, hidden: false });
    b.send({ type: "settings.set", lastSeen: "nobody" });
    expect(await a.next((f) => isPresence(f) && f.ref === undefined)).toMatchObject({ user: bob.user, ...HIDDEN });
  });

  it("a hidden user's comings and goings are not pushed to subscribers", async () => {
    const { bob, a, b } = await chatting();
    await setLastSeen(b, bob.user, "nobody");
    expect(await subscribe(a, bob.user)).toMatchObject(HIDDEN);

    // Awaited reports: the shard has pushed to every subscriber when each returns.
    await shardOf(bob.user).report(bob.user, { activeAt: Date.now() });
    await shardOf(bob.user).report(bob.user, { offline: {} });
    await a.barrier();
    // Even with its fields hidden, a frame at each change would tell when bob comes and goes.
    expect(a.buffered().filter(isPresence)).toEqual([]);
  });
});

describe("read receipts turned off", () => {
  it("the user's reading does not give the sender blue ticks, only delivered", async () => {
    const { alice, bob, a, b } = await chatting();
    b.send({ type: "settings.set", readReceipts: false });
    await b.nextOf("settings");
    b.send({ type: "receipt.read", chat: alice.user, upto: 1 });

    const receipt = await a.next((f) => f.type === "receipt" && f.delivered >= 1);
    expect(receipt).toMatchObject({ chat: bob.user, delivered: 1, read: 0 });
    await waitUntil(async () => (await inStore(bob.user, (store) => store.receiptToSend(alice.user))) === undefined, "bob's receipt went out");
    expect(await inStore(alice.user, (store) => store.chat(bob.user))).toMatchObject({ delivered: 1, read: 0 });
    a.send({ type: "sync", ref: "s", after: 0 });
    expect((await a.nextOf("sync.page", "s")).messages[0]).toMatchObject({ seq: 1, status: "delivered" });
  });

  it("the user does not see blue ticks on their own messages either", async () => {
    const { alice, bob, a, b } = await chatting();
    b.send({ type: "settings.set", readReceipts: false });
    await b.nextOf("settings");
    b.send({ type: "msg.send", ref: "r", clientId: "r1", to: alice.user, text: "reply" });
    await b.nextOf("msg.sent", "r");
    await a.nextOf("msg");

    a.send({ type: "receipt.read", chat: bob.user, upto: 1 });
    const receipt = await b.next((f) => f.type === "receipt" && f.delivered >= 1);
    expect(receipt).toMatchObject({ chat: alice.user, delivered: 1, read: 0 });
    // Bob's object knows alice read it; bob's devices are not shown.
    const stored = await runInDurableObject(userStub(bob.user), (_instance: UserObject, state) =>
      state.storage.sql.exec<{ read: number }>("SELECT read FROM chats WHERE peer = ?", alice.user).one().read,
    );
    expect(stored).toBe(1);
    b.send({ type: "sync", ref: "s", after: 0 });
    const page = await b.nextOf("sync.page", "s");
    expect(page.messages.find((m) => m.clientId === "r1")).toMatchObject({ status: "delivered" });
    expect(page.chats.find((c) => c.chat === alice.user)).toMatchObject({ read: 0 });
  });

  it("turned back on, reading gives blue ticks again", async () => {
    const { alice, bob, a, b } = await chatting();
    b.send({ type: "settings.set", readReceipts: false });
    await b.nextOf("settings");
    b.send({ type: "settings.set", readReceipts: true });
    await b.next((f) => f.type === "settings" && f.readReceipts);
    b.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    expect(await a.next((f) => f.type === "receipt" && f.read >= 1)).toMatchObject({ chat: bob.user, read: 1 });
  });
});
