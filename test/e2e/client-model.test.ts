import { describe, expect, it } from "vitest";
import { ChatModel, Cursor, ReceiptQueue, reconnectDelay, type ReceiptToSend } from "../../src/client";
import type { Message } from "../../src/protocol";

// The SDK's pure parts, in Node without a server.

function message(overrides: Partial<Message>): Message {
  return { id: "m1", chat: "bob", from: "alice", to: "bob", seq: 1, clientId: "c1", text: "hi", sentAt: 1, rev: 1, ...overrides };
}

describe("the sync cursor", () => {
  it("is absent until the first sync page and then follows the pages", () => {
    const cursor = new Cursor();
    expect(cursor.beginSync()).toBeUndefined();
    cursor.page(10, true);
    expect(cursor.syncing).toBe(true);
    cursor.page(20, false);
    expect(cursor.rev).toBe(20);
    expect(cursor.syncing).toBe(false);
  });

  it("advances from live frames only without a gap", () => {
    const cursor = new Cursor(5);
    cursor.live(7);
    expect(cursor.rev).toBe(5);
    cursor.live(6);
    expect(cursor.rev).toBe(7);
    cursor.live(3);
    expect(cursor.rev).toBe(7);
  });

  it("holds live frames during a sync and applies them after its last page", () => {
    const cursor = new Cursor(5);
    cursor.beginSync();
    cursor.live(10);
    cursor.live(11);
    expect(cursor.rev).toBe(5);
    cursor.page(8, false);
    expect(cursor.rev).toBe(8);
    expect(cursor.waiting).toBe(2);
    cursor.live(9);
    expect(cursor.rev).toBe(11);
    expect(cursor.waiting).toBe(0);
  });

  it("forgets held frames when the socket drops", () => {
    const cursor = new Cursor(1);
    cursor.live(3);
    cursor.disconnected();
    cursor.live(2);
    expect(cursor.rev).toBe(2);
  });
});

describe("the chat model", () => {
  it("shows a message synced twice once", () => {
    const model = new ChatModel();
    model.setMe("bob");
    const incoming = message({ from: "alice", to: "bob", chat: "alice" });
    expect(model.upsert(incoming).added).toBe(true);
    expect(model.upsert(incoming).added).toBe(false);
    expect(model.chat("alice")?.messages).toHaveLength(1);
    expect(model.unread("alice")).toBe(1);
  });

  it("turns a pending message into the stored one and keeps rev order with pending last", () => {
    const model = new ChatModel();
    model.setMe("alice");
    model.addPending({ clientId: "c2", to: "bob", text: "second", createdAt: 5 });
    model.upsert(message({ id: "m1", clientId: "c1", rev: 3, seq: 1, text: "first" }));
    expect(model.chat("bob")?.messages.map((m) => [m.text, m.status])).toEqual([
      ["first", "sent"],
      ["second", "pending"],
    ]);
    model.acknowledge({ type: "msg.sent", clientId: "c2", id: "m2", chat: "bob", seq: 2, rev: 4, sentAt: 6, duplicate: false }, "second");
    model.upsert(message({ id: "m0", clientId: "c0", rev: 1, seq: 0, text: "zeroth", from: "bob", to: "alice" }));
    expect(model.chat("bob")?.messages.map((m) => m.text)).toEqual(["zeroth", "first", "second"]);
  });

  it("derives ticks from the receipt watermarks, which never move back", () => {
    const model = new ChatModel();
    model.setMe("alice");
    const one = model.upsert(message({ id: "m1", clientId: "c1", seq: 1, rev: 1 })).message;
    const two = model.upsert(message({ id: "m2", clientId: "c2", seq: 2, rev: 2 })).message;
    const state = { chat: "bob", delivered: 2, read: 1, readByMe: 0, lastIn: 0, lastOut: 2, rev: 3 };
    model.applyChat(state);
    expect([one.status, two.status]).toEqual(["read", "delivered"]);
    model.applyChat({ ...state, delivered: 0, read: 0, rev: 4 });
    expect([one.status, two.status]).toEqual(["read", "delivered"]);
    model.fail({ id: "m2", clientId: "c2", chat: "bob", seq: 2, reason: "unreachable", rev: 5 });
    expect(two.status).toBe("failed");
  });
});

describe("the receipt queue", () => {
  it("coalesces per chat and resends what the server may not have received", () => {
    const queue = new ReceiptQueue();
    queue.note("delivered", "bob", 1);
    queue.note("delivered", "bob", 3);
    expect(queue.note("delivered", "bob", 2)).toBe(false);
    const sent: ReceiptToSend[] = [];
    let frame = 0;
    queue.flush((r) => (sent.push(r), ++frame));
    expect(sent).toEqual([{ kind: "delivered", chat: "bob", upto: 3 }]);

    queue.disconnected();
    queue.flush((r) => (sent.push(r), ++frame));
    expect(sent).toHaveLength(2);

    queue.requestSent("s1", ++frame);
    queue.answered("s1");
    queue.disconnected();
    queue.flush((r) => (sent.push(r), ++frame));
    expect(sent).toHaveLength(2);
    expect(queue.size).toBe(0);
  });
});

describe("the reconnect delay", () => {
  it("grows exponentially with jitter up to the cap", () => {
    const policy = { baseMs: 500, maxMs: 30_000 };
    expect(reconnectDelay(0, policy, () => 0)).toBe(250);
    expect(reconnectDelay(0, policy, () => 1)).toBe(500);
    expect(reconnectDelay(3, policy, () => 1)).toBe(4_000);
    expect(reconnectDelay(20, policy, () => 1)).toBe(30_000);
    expect(reconnectDelay(20, policy, () => 0)).toBe(15_000);
  });
});
