/**
 * One user's object seen through its sockets: hello, sending with dedupe,
 * sync and history, typed errors for bad frames, and surviving hibernation.
 */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { WireMessage } from "../../src/objects/user-store";
import { connect, connectReady, inStore, register, userStub } from "./helpers";

function incoming(from: string, to: string, seqs: number[]): WireMessage[] {
  return seqs.map((seq) => ({ id: crypto.randomUUID(), from, to, seq, clientId: `${from}-${seq}`, text: `message ${seq}`, sentAt: seq }));
}

describe("a new socket", () => {
  it("is greeted with hello naming the user, the device, the log head and the limits", async () => {
    const alice = await register("alice");
    const device = await connect(alice, { device: "tablet" });
    expect(await device.next()).toEqual({
      type: "hello",
      user: alice.user,
      device: "tablet",
      rev: 0,
      serverTime: expect.any(Number),
      limits: { maxTextBytes: 65_536, maxFrameBytes: 262_144, historyPageSize: 50, syncPageSize: 200, frameRatePerSec: 50, frameBurst: 200, sendRatePerSec: 20, sendBurst: 60 },
    });
  });

  it("is given a device id when it does not name one", async () => {
    const alice = await register("alice");
    const device = await connect(alice);
    expect((await device.nextOf("hello")).device).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers ping with pong", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.sendRaw("ping");
    expect(await device.nextRaw()).toBe("pong");
  });
});

describe("msg.send", () => {
  it("answers with msg.sent carrying the server id, the chat's seq and the log rev", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice);
    device.send({ type: "msg.send", ref: "r1", clientId: "c1", to: bob.user, text: "hi bob" });
    const sent = await device.nextOf("msg.sent", "r1");
    expect(sent).toMatchObject({ clientId: "c1", chat: bob.user, seq: 1, rev: 1, duplicate: false });
    expect(sent.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a resend with the same id and seq, marked duplicate, and stores the message once", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice);
    const frame = { type: "msg.send", clientId: "c1", to: bob.user, text: "only once" } as const;
    device.send({ ...frame, ref: "first" });
    const first = await device.nextOf("msg.sent", "first");
    device.send({ ...frame, ref: "again", text: "a changed text is still a resend" });
    const again = await device.nextOf("msg.sent", "again");
    expect(again).toEqual({ ...first, ref: "again", duplicate: true });

    device.send({ type: "sync", ref: "s" });
    const page = await device.nextOf("sync.page", "s");
    expect(page.messages.map((m) => [m.id, m.text])).toEqual([[first.id, "only once"]]);
  });

  it("stores one message when the same first message of a chat arrives twice at once", async () => {
    // The recipient lookup awaits; the second copy must not slip past the dedupe meanwhile.
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice);
    const frame = { type: "msg.send", clientId: "c1", to: bob.user, text: "hi" } as const;
    device.send({ ...frame, ref: "a" });
    device.send({ ...frame, ref: "b" });
    const [a, b] = await Promise.all([device.nextOf("msg.sent", "a"), device.nextOf("msg.sent", "b")]);
    expect(a.id).toBe(b.id);
    expect([a.duplicate, b.duplicate].sort()).toEqual([false, true]);
    expect(await inStore(alice.user, (store) => store.syncAfter(0, 10).messages.length)).toBe(1);
  });

  it("numbers each chat's messages 1, 2, 3 on its own while the log rev keeps rising", async () => {
    const [alice, bob, carol] = await Promise.all([register("alice"), register("bob"), register("carol")]);
    const device = await connectReady(alice);
    const sent = [];
    for (const [i, to] of [bob, carol, bob, bob, carol].entries()) {
      device.send({ type: "msg.send", ref: `r${i}`, clientId: `c${i}`, to: to.user, text: `m${i}` });
      sent.push(await device.nextOf("msg.sent", `r${i}`));
    }
    expect(sent.map((s) => [s.chat === bob.user ? "bob" : "carol", s.seq])).toEqual([["bob", 1], ["carol", 1], ["bob", 2], ["bob", 3], ["carol", 2]]);
    const revs = sent.map((s) => s.rev);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(new Set(revs).size).toBe(revs.length);
  });

  it("copies what one device sends to my other devices, but not back to the sender", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const phone = await connectReady(alice, { device: "phone" });
    const laptop = await connectReady(alice, { device: "laptop" });
    phone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "from my phone" });
    const sent = await phone.nextOf("msg.sent", "r");
    const copy = await laptop.nextOf("msg");
    expect(copy.message).toMatchObject({ id: sent.id, chat: bob.user, from: alice.user, to: bob.user, seq: 1, text: "from my phone", status: "sent" });
    await phone.barrier();
    expect(phone.buffered().filter((f) => f.type === "msg")).toEqual([]);
  });
});

describe("sync", () => {
  it("gives a device exactly what came after its cursor, in order", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice);
    device.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "before" });
    const { rev: cursor } = await device.nextOf("msg.sent", "r");
    await userStub(alice.user).receive(bob.user, alice.user, incoming(bob.user, alice.user, [1, 2]));
    device.send({ type: "msg.send", ref: "r2", clientId: "c2", to: bob.user, text: "after" });
    await device.nextOf("msg.sent", "r2");

    device.send({ type: "sync", ref: "s", after: cursor });
    const page = await device.nextOf("sync.page", "s");
    expect(page.messages.map((m) => [m.from === bob.user ? "bob" : "me", m.seq])).toEqual([["bob", 1], ["bob", 2], ["me", 2]]);
    expect(page.rev).toBe(4);
    expect(page.more).toBe(false);
  });

  it("pages a long backlog with more, and the next page continues from the returned rev", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await userStub(alice.user).receive(bob.user, alice.user, incoming(bob.user, alice.user, Array.from({ length: 205 }, (_, i) => i + 1)));
    const device = await connectReady(alice);
    device.send({ type: "sync", ref: "p1", after: 0 });
    const first = await device.nextOf("sync.page", "p1");
    expect(first.messages).toHaveLength(200);
    expect(first).toMatchObject({ rev: 200, more: true });
    device.send({ type: "sync", ref: "p2", after: first.rev });
    const second = await device.nextOf("sync.page", "p2");
    expect(second.messages.map((m) => m.seq)).toEqual([201, 202, 203, 204, 205]);
    expect(second).toMatchObject({ rev: 205, more: false });
  });

  it("starts a device with no cursor from the newest messages and every chat", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await userStub(alice.user).receive(bob.user, alice.user, incoming(bob.user, alice.user, Array.from({ length: 210 }, (_, i) => i + 1)));
    const device = await connectReady(alice);
    device.send({ type: "sync", ref: "s" });
    const page = await device.nextOf("sync.page", "s");
    expect(page.messages).toHaveLength(200);
    expect(page.messages[0]!.seq).toBe(11);
    expect(page.messages.at(-1)!.seq).toBe(210);
    expect(page.chats.map((c) => c.chat)).toEqual([bob.user]);
    expect(page).toMatchObject({ rev: 210, more: false, failures: [] });
  });

  it("treats a cursor from the future like a new device", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await userStub(alice.user).receive(bob.user, alice.user, incoming(bob.user, alice.user, [1, 2]));
    const device = await connectReady(alice);
    device.send({ type: "sync", ref: "s", after: 999 });
    const page = await device.nextOf("sync.page", "s");
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(page).toMatchObject({ rev: 2, more: false });
  });
});

describe("history", () => {
  it("pages a chat backwards, each page oldest first", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await userStub(alice.user).receive(bob.user, alice.user, incoming(bob.user, alice.user, [1, 2, 3, 4, 5]));
    const device = await connectReady(alice);
    device.send({ type: "history", ref: "h1", chat: bob.user, limit: 3 });
    const newest = await device.nextOf("history.page", "h1");
    expect(newest).toMatchObject({ chat: bob.user, more: true });
    expect(newest.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
    device.send({ type: "history", ref: "h2", chat: bob.user, limit: 3, before: newest.messages[0]!.rev });
    const older = await device.nextOf("history.page", "h2");
    expect(older.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(older.more).toBe(false);
  });
});

describe("bad frames", () => {
  it("answers each bad frame with a typed error that echoes its ref", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    const cases: [string, string][] = [
      ['{"type":"sync"', "bad_json"],
      ['{"type":"msg.delete","ref":"x1"}', "unknown_type"],
      ['{"type":"history","ref":"x2"}', "bad_frame"],
      ['["sync"]', "bad_frame"],
    ];
    for (const [raw, code] of cases) {
      device.sendRaw(raw);
      const error = await device.nextOf("error");
      expect(error.code, raw).toBe(code);
      const ref = /"ref":"(\w+)"/.exec(raw)?.[1];
      if (ref) expect(error.ref).toBe(ref);
    }
  });

  it("refuses binary frames", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.sendRaw(new TextEncoder().encode('{"type":"sync"}').buffer as ArrayBuffer);
    expect(await device.nextOf("error")).toMatchObject({ code: "binary_not_supported" });
  });

  it("refuses a text over maxTextBytes counted in UTF-8, and stores nothing", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice);
    // 21,846 characters, 65,538 bytes: under the limit in characters, over it in bytes.
    device.send({ type: "msg.send", ref: "big", clientId: "c1", to: bob.user, text: "€".repeat(21_846) });
    expect(await device.nextOf("error")).toMatchObject({ code: "text_too_large", ref: "big" });
    device.send({ type: "msg.send", ref: "fits", clientId: "c2", to: bob.user, text: "€".repeat(21_845) + "a" });
    expect(await device.nextOf("msg.sent", "fits")).toMatchObject({ seq: 1 });
  });

  it("refuses a frame over maxFrameBytes", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.sendRaw(JSON.stringify({ type: "sync", ref: "huge", pad: "x".repeat(262_144) }));
    const error = await device.nextOf("error");
    expect(error.code).toBe("frame_too_large");
    // The frame was not parsed, so its ref cannot be known.
    expect(error.ref).toBeUndefined();
  });

  it("keeps the socket open after an error", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.sendRaw("not json");
    await device.nextOf("error");
    device.send({ type: "sync", ref: "still" });
    expect(await device.nextOf("sync.page", "still")).toMatchObject({ messages: [] });
  });
});

describe("hibernation", () => {
  it("keeps serving a socket after the object was evicted, with identity and counters intact", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connectReady(alice, { device: "phone" });
    device.send({ type: "msg.send", ref: "r1", clientId: "c1", to: bob.user, text: "before" });
    await device.nextOf("msg.sent", "r1");

    await evictDurableObject(userStub(alice.user));

    device.send({ type: "msg.send", ref: "r2", clientId: "c2", to: bob.user, text: "after" });
    expect(await device.nextOf("msg.sent", "r2")).toMatchObject({ seq: 2, rev: 2, duplicate: false });
    device.send({ type: "msg.send", ref: "r3", clientId: "c1", to: bob.user, text: "before" });
    expect(await device.nextOf("msg.sent", "r3")).toMatchObject({ seq: 1, duplicate: true });
  });
});
