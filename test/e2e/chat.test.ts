/**
 * One-to-one chat over real sockets: sending, receipts, resends and several
 * devices per user.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type RunningWorker } from "./harness";
import { expectType, is, login, register, sendText, socketPool, syncPage } from "./support";

let worker: RunningWorker;
const sockets = socketPool();
beforeAll(async () => {
  worker = await startWorker();
});
afterEach(() => sockets.closeAll());
afterAll(() => worker?.stop());

describe("a one-to-one chat", () => {
  it("delivers a message and reports it delivered, then read, to the sender", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const [aliceLogin, bobLogin] = await Promise.all([login(worker, alice.user), login(worker, bob.user)]);
    expect(aliceLogin.user).toBe(alice.user);
    const a = await sockets.open(worker, aliceLogin.token);
    const b = await sockets.open(worker, bobLogin.token);
    expect(a.hello).toMatchObject({ user: alice.user, rev: 0 });

    const sent = await sendText(a, bob.user, "hello bob");
    expect(sent).toMatchObject({ chat: bob.user, seq: 1, rev: 1, duplicate: false });
    expect(sent.id).toMatch(/.+/);

    const { message } = await b.next(is("msg"));
    expect(message).toMatchObject({ id: sent.id, chat: alice.user, from: alice.user, to: bob.user, seq: 1, text: "hello bob", sentAt: sent.sentAt });
    expect(message.status).toBeUndefined();

    b.send({ type: "receipt.delivered", chat: alice.user, upto: message.seq });
    const delivered = await a.next(is("receipt", (f) => f.delivered >= 1));
    expect(delivered).toMatchObject({ chat: bob.user, delivered: 1, read: 0, lastOut: 1 });

    b.send({ type: "receipt.read", chat: alice.user, upto: message.seq });
    const read = await a.next(is("receipt", (f) => f.read >= 1));
    expect(read).toMatchObject({ chat: bob.user, delivered: 1, read: 1 });

    const page = await syncPage(a, 0);
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]).toMatchObject({ id: sent.id, status: "read" });
    expect(page.chats).toContainEqual(expect.objectContaining({ chat: bob.user, delivered: 1, read: 1, lastOut: 1 }));
  });

  it("numbers each direction of a chat separately", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token);
    const b = await sockets.open(worker, bob.token);

    expect((await sendText(a, bob.user, "one")).seq).toBe(1);
    expect((await sendText(a, bob.user, "two")).seq).toBe(2);
    expect((await sendText(b, alice.user, "reply")).seq).toBe(1);
    const texts = [(await b.next(is("msg"))).message, (await b.next(is("msg"))).message].map((m) => [m.seq, m.text]);
    expect(texts).toEqual([
      [1, "one"],
      [2, "two"],
    ]);
    expect((await a.next(is("msg"))).message).toMatchObject({ from: bob.user, seq: 1, text: "reply" });
  });

  it("answers a resend of the same clientId with the first answer, and the peer sees the message once", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const b = await sockets.open(worker, bob.token);
    const first = await sockets.open(worker, alice.token, { device: "phone" });
    const sent = await sendText(first, bob.user, "only once", "client-1");
    await first.close();

    // The reply was "lost"; the app reconnects and sends the message again.
    const again = await sockets.open(worker, alice.token, { device: "phone" });
    const resent = await sendText(again, bob.user, "only once", "client-1");
    expect(resent).toMatchObject({ id: sent.id, seq: sent.seq, rev: sent.rev, clientId: "client-1", duplicate: true });

    // A later message is behind the resend in Bob's stream: once it is here, any duplicate would be too.
    await sendText(again, bob.user, "after", "client-2");
    await b.next(is("msg", (f) => f.message.clientId === "client-2"));
    const pushed = b.received.filter((f) => f.type === "msg").map((f) => (f.type === "msg" ? f.message.clientId : ""));
    expect(pushed).toEqual(["client-1", "client-2"]);
    const bobLog = await syncPage(b, 0);
    expect(bobLog.messages.map((m) => [m.clientId, m.seq])).toEqual([
      ["client-1", 1],
      ["client-2", 2],
    ]);
    const aliceLog = await syncPage(again, 0);
    expect(aliceLog.messages.map((m) => m.clientId)).toEqual(["client-1", "client-2"]);
  });

  it("stores a message once when the same clientId arrives twice at once for a new chat", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token);
    const frame = { type: "msg.send", clientId: "twice", to: bob.user, text: "hi" } as const;
    a.send({ ...frame, ref: "first" });
    a.send({ ...frame, ref: "second" });
    const one = expectType(await a.next((f) => "ref" in f && f.ref === "first"), "msg.sent");
    const two = expectType(await a.next((f) => "ref" in f && f.ref === "second"), "msg.sent");
    expect(one.id).toBe(two.id);
    expect([one.duplicate, two.duplicate].sort()).toEqual([false, true]);
    expect((await syncPage(a, 0)).messages).toHaveLength(1);
  });
});

describe("several devices per user", () => {
  it("shows a message, its receipts and reads on every device of both users", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a1 = await sockets.open(worker, alice.token, { device: "alice-phone" });
    const a2 = await sockets.open(worker, alice.token, { device: "alice-laptop" });
    const b1 = await sockets.open(worker, bob.token, { device: "bob-phone" });
    const b2 = await sockets.open(worker, bob.token, { device: "bob-laptop" });
    expect(a2.hello.device).toBe("alice-laptop");

    const sent = await sendText(a1, bob.user, "to every device");
    // Alice's other device shows what she sent from her phone.
    const mine = await a2.next(is("msg"));
    expect(mine.message).toMatchObject({ id: sent.id, from: alice.user, chat: bob.user, rev: sent.rev, status: "sent" });
    // Both of Bob's devices receive it.
    const [onB1, onB2] = await Promise.all([b1.next(is("msg")), b2.next(is("msg"))]);
    expect(onB1.message.id).toBe(sent.id);
    expect(onB2.message).toEqual(onB1.message);

    b1.send({ type: "receipt.delivered", chat: alice.user, upto: 1 });
    await Promise.all([a1, a2].map((a) => a.next(is("receipt", (f) => f.delivered === 1))));

    b1.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    // Bob's other device learns he has read the chat (its unread count clears).
    const readElsewhere = await b2.next(is("receipt"));
    expect(readElsewhere).toMatchObject({ chat: alice.user, readByMe: 1, lastIn: 1 });
    const readOnA = await Promise.all([a1, a2].map((a) => a.next(is("receipt", (f) => f.read === 1))));
    expect(readOnA[1]).toMatchObject({ chat: bob.user, delivered: 1, read: 1 });
    // Alice's own devices never got an msg echo of their own send on the sending socket.
    expect(a1.received.filter((f) => f.type === "msg")).toEqual([]);
  });
});
