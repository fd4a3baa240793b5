/**
 * Messages and receipts travelling between two users' objects by RPC, with
 * both users' devices connected through the gateway.
 */
import { describe, expect, it } from "vitest";
import type { WireMessage } from "../../src/objects/user-store";
import { type Client, connectReady, inStore, outboxOf, register, userStub, waitUntil } from "./helpers";

async function expectBurstInOrder(sender: Client, recipient: Client, to: string, already: number): Promise<void> {
  const texts = Array.from({ length: 8 }, (_, i) => `m${already + i}`);
  for (const [i, text] of texts.entries()) sender.send({ type: "msg.send", clientId: `burst${i}`, to, text });
  const received = [];
  for (let i = 0; i < texts.length; i++) received.push((await recipient.nextOf("msg")).message);
  expect(received.map((m) => m.text)).toEqual(texts);
  expect(received.map((m) => m.seq)).toEqual(texts.map((_, i) => already + i + 1));
}

describe("delivery", () => {
  it("hands a message to the recipient's object, which pushes it to their devices", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const bobPhone = await connectReady(bob);
    const alicePhone = await connectReady(alice);
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "hello bob" });
    const sent = await alicePhone.nextOf("msg.sent", "r");

    const { message } = await bobPhone.nextOf("msg");
    expect(message).toEqual({
      id: sent.id,
      chat: alice.user,
      from: alice.user,
      to: bob.user,
      seq: 1,
      clientId: "c1",
      text: "hello bob",
      sentAt: sent.sentAt,
      rev: 1,
    });
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
  });

  it("stores a message for a recipient with no device online, who gets it on sync", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "for later" });
    await alicePhone.nextOf("msg.sent", "r");
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");

    const bobPhone = await connectReady(bob);
    bobPhone.send({ type: "sync", ref: "s" });
    const page = await bobPhone.nextOf("sync.page", "s");
    expect(page.messages.map((m) => [m.from, m.text])).toEqual([[alice.user, "for later"]]);
    expect(page.chats).toMatchObject([{ chat: alice.user, lastIn: 1 }]);
  });

  it("delivers a burst of messages in an existing chat in the order they were sent", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const bobPhone = await connectReady(bob);
    const alicePhone = await connectReady(alice);
    alicePhone.send({ type: "msg.send", ref: "first", clientId: "c0", to: bob.user, text: "m0" });
    await alicePhone.nextOf("msg.sent", "first");
    await bobPhone.nextOf("msg");
    await expectBurstInOrder(alicePhone, bobPhone, bob.user, 1);
  });

  // Regression: the recipient lookup of a new chat awaits, and sends that
  // arrived meanwhile once took seqs in the order their own lookups finished.
  it("delivers a burst that opens a new chat in the order it was sent", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const bobPhone = await connectReady(bob);
    const alicePhone = await connectReady(alice);
    await expectBurstInOrder(alicePhone, bobPhone, bob.user, 0);
  });

  it("lets the recipient reply in the same chat, each direction numbered by its sender", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    const bobPhone = await connectReady(bob);
    alicePhone.send({ type: "msg.send", clientId: "a1", to: bob.user, text: "hi" });
    await bobPhone.nextOf("msg");
    bobPhone.send({ type: "msg.send", ref: "r", clientId: "b1", to: alice.user, text: "hi yourself" });
    expect(await bobPhone.nextOf("msg.sent", "r")).toMatchObject({ seq: 1, rev: 2 });
    expect((await alicePhone.nextOf("msg")).message).toMatchObject({ from: bob.user, seq: 1, rev: 2, text: "hi yourself" });
    expect(await inStore(alice.user, (store) => store.chat(bob.user))).toMatchObject({ lastOut: 1, lastIn: 1 });
  });

  it("pushes a batch that is delivered twice to the recipient's devices only once", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const bobPhone = await connectReady(bob);
    const batch: WireMessage[] = [1, 2].map((seq) => ({ id: crypto.randomUUID(), from: alice.user, to: bob.user, seq, clientId: `c${seq}`, text: `m${seq}`, sentAt: seq }));
    expect(await userStub(bob.user).receive(alice.user, bob.user, batch)).toEqual({ lastIn: 2 });
    expect(await userStub(bob.user).receive(alice.user, bob.user, batch)).toEqual({ lastIn: 2 });
    await bobPhone.nextOf("msg");
    await bobPhone.nextOf("msg");
    await bobPhone.barrier();
    expect(bobPhone.buffered().filter((f) => f.type === "msg")).toEqual([]);
    expect(await inStore(bob.user, (store) => store.syncAfter(0, 10).messages.map((m) => m.seq))).toEqual([1, 2]);
  });
});

describe("receipts", () => {
  it("tells the sender's devices when the recipient's device has the message, then when it was read", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    const bobPhone = await connectReady(bob);
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "one" });
    alicePhone.send({ type: "msg.send", clientId: "c2", to: bob.user, text: "two" });
    await bobPhone.nextOf("msg");
    await bobPhone.nextOf("msg");

    bobPhone.send({ type: "receipt.delivered", chat: alice.user, upto: 2 });
    expect(await alicePhone.nextOf("receipt")).toMatchObject({ chat: bob.user, delivered: 2, read: 0, lastOut: 2 });

    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    expect(await alicePhone.nextOf("receipt")).toMatchObject({ chat: bob.user, delivered: 2, read: 1 });

    alicePhone.send({ type: "history", ref: "h", chat: bob.user });
    const history = await alicePhone.nextOf("history.page", "h");
    expect(history.messages.map((m) => [m.text, m.status])).toEqual([
      ["one", "read"],
      ["two", "delivered"],
    ]);
  });

  it("tells my other devices what I read, so they can clear the unread count", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    const bobPhone = await connectReady(bob, { device: "phone" });
    const bobLaptop = await connectReady(bob, { device: "laptop" });
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "one" });
    await bobPhone.nextOf("msg");
    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    expect(await bobLaptop.nextOf("receipt")).toMatchObject({ chat: alice.user, readByMe: 1, lastIn: 1 });
  });

  it("never reports more read than the recipient received", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    const bobPhone = await connectReady(bob);
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "one" });
    await bobPhone.nextOf("msg");
    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 50 });
    expect(await alicePhone.nextOf("receipt")).toMatchObject({ delivered: 1, read: 1, lastOut: 1 });
  });

  it("lets a syncing device catch up on receipts that arrived while it was away", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const alicePhone = await connectReady(alice);
    const bobPhone = await connectReady(bob);
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "one" });
    const { rev: cursor } = await alicePhone.nextOf("msg.sent", "r");
    await bobPhone.nextOf("msg");
    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    await alicePhone.nextOf("receipt");

    const aliceLaptop = await connectReady(alice, { device: "laptop" });
    aliceLaptop.send({ type: "sync", ref: "s", after: cursor });
    const page = await aliceLaptop.nextOf("sync.page", "s");
    expect(page.messages).toEqual([]);
    expect(page.chats).toMatchObject([{ chat: bob.user, delivered: 1, read: 1 }]);
  });
});
