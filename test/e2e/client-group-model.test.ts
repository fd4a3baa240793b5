import { describe, expect, it } from "vitest";
import { GroupModel, tickFrom } from "../../src/client";
import type { GroupMessage, GroupPageFrame } from "../../src/protocol";

// The SDK's group model, in Node without a server.

const G = "g_abcdefgh12";

function message(seq: number, from = "bob", overrides: Partial<GroupMessage> = {}): GroupMessage {
  return { id: `m${seq}`, group: G, seq, from, clientId: `c${seq}`, text: `text ${seq}`, sentAt: seq, ...overrides };
}

function page(messages: GroupMessage[], extra: Partial<GroupPageFrame> = {}): GroupPageFrame {
  return { type: "group.page", group: G, messages, more: false, head: messages.at(-1)?.seq ?? 0, delivered: 0, read: 0, readByMe: 0, ...extra };
}

function model(): GroupModel {
  const m = new GroupModel();
  m.setMe("alice");
  m.membership({ group: G, name: "trip", role: "admin", active: true });
  return m;
}

describe("the group model", () => {
  it("orders messages by seq and shows a message seen twice once", () => {
    const m = model();
    m.upsert(message(2));
    m.upsert(message(1));
    expect(m.upsert(message(2)).added).toBe(false);
    expect(m.group(G)!.messages.map((x) => x.seq)).toEqual([1, 2]);
  });

  it("moves the cursor only over messages held without a gap", () => {
    const m = model();
    m.applyPage(page([message(1), message(2)]));
    m.advanceCursor(G, 2);
    m.upsert(message(4));
    expect(m.group(G)!.cursor).toBe(2);
    m.upsert(message(3));
    expect(m.group(G)!.cursor).toBe(4);
  });

  it("turns a pending message into a sent one and ticks it from the group-wide watermarks", () => {
    const m = model();
    const pending = m.addPending({ clientId: "mine", to: G, group: true, text: "hi", createdAt: 5 });
    expect(pending.status).toBe("pending");
    const sent = m.acknowledge({ type: "group.sent", clientId: "mine", group: G, id: "x", seq: 3, sentAt: 6, duplicate: false }, "hi");
    expect(sent).toBe(pending);
    expect(sent.status).toBe("sent");
    m.applyReceipt(G, 3, 0);
    expect(sent.status).toBe("delivered");
    m.applyReceipt(G, 2, 3);
    expect(sent.status).toBe("read");
    expect(tickFrom({ ...sent, failReason: "not_a_member" }, m.group(G)!)).toBe("failed");
  });

  it("counts others' messages after my read watermark as unread, never system messages", () => {
    const m = model();
    m.upsert(message(1, "bob", { text: "", event: { kind: "created", by: "bob", name: "trip" } }));
    m.upsert(message(2));
    m.upsert(message(3, "carol"));
    expect(m.unread(G)).toBe(2);
    m.markRead(G, 2);
    expect(m.unread(G)).toBe(1);
    // Writing in the group reads it up to there.
    m.upsert(message(4, "alice"));
    expect(m.unread(G)).toBe(0);
  });

  it("starts a new device's unread count at the read watermark a page brings, and never moves it back", () => {
    const m = model();
    m.applyPage(page([message(1), message(2), message(3)], { readByMe: 2 }));
    expect(m.unread(G)).toBe(1);
    m.applyPage(page([], { readByMe: 1 }));
    expect(m.unread(G)).toBe(1);
  });

  it("drops a refused message from view when it is sent again", () => {
    const m = model();
    m.addPending({ clientId: "mine", to: G, group: true, text: "hi", createdAt: 5 });
    expect(m.reject("mine", "not_a_member")?.status).toBe("failed");
    m.discard("mine");
    expect(m.group(G)!.messages).toEqual([]);
  });
});
