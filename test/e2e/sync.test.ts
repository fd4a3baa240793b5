/**
 * Catching up: offline delivery through sync from a cursor, sync pages, and a
 * new device's start with recent messages and history pages.
 * Sync pages hold 10 messages here so paging shows with few messages.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type RunningWorker } from "./harness";
import { catchUp, expectType, is, register, sendText, socketPool, syncPage, type Client } from "./support";

const PAGE = 10;
let worker: RunningWorker;
const sockets = socketPool();
beforeAll(async () => {
  worker = await startWorker({ vars: { SYNC_PAGE_SIZE: String(PAGE) } });
});
afterEach(() => sockets.closeAll());
afterAll(() => worker?.stop());

/** Sends `count` messages back to back (not waiting in between) and awaits every msg.sent. */
async function sendMany(from: Client, to: string, count: number, label: string) {
  const replies = Array.from({ length: count }, (_, i) => from.request({ type: "msg.send", clientId: `${label}-${i + 1}`, to, text: `${label} ${i + 1}` }));
  return (await Promise.all(replies)).map((reply) => expectType(reply, "msg.sent"));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("offline delivery", () => {
  it("gives a reconnecting device exactly the messages sent while it was away, in order", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token);
    const phone = await sockets.open(worker, bob.token, { device: "phone" });
    await sendMany(a, bob.user, 3, "before");
    const { messages: seen } = await catchUp(phone, 0, 3);
    const cursor = seen[2]!.rev;
    await phone.close();

    // Bob has no socket open now: his object stores what arrives.
    const sent = await sendMany(a, bob.user, 30, "away");
    expect(sent.map((s) => s.seq)).toEqual(range(4, 33));

    const back = await sockets.open(worker, bob.token, { device: "phone" });
    const { messages, pages } = await catchUp(back, cursor, 30);
    expect(messages.map((m) => m.seq)).toEqual(range(4, 33));
    expect(messages.map((m) => m.text)).toEqual(range(1, 30).map((i) => `away ${i}`));
    expect(new Set(messages.map((m) => m.id)).size).toBe(30);
    for (const page of pages) expect(page.messages.length).toBeLessThanOrEqual(PAGE);
    expect(pages.slice(0, -1).every((p) => p.more)).toBe(true);
  });

  it("keeps messages for a user who has never connected until their first device syncs", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token);
    const sent = await sendMany(a, bob.user, 12, "first");

    const b = await sockets.open(worker, bob.token);
    const { messages } = await catchUp(b, 0, 12);
    expect(messages.map((m) => [m.id, m.seq, m.from])).toEqual(sent.map((s) => [s.id, s.seq, alice.user]));
  });

  it("pages a long catch-up by the sync page size, then reports nothing more", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const a = await sockets.open(worker, alice.token);
    // Bob's laptop stays online, so the test knows when everything has reached his object.
    const laptop = await sockets.open(worker, bob.token, { device: "laptop" });
    await sendMany(a, bob.user, 30, "m");
    await laptop.next(is("msg", (f) => f.message.seq === 30));

    const phone = await sockets.open(worker, bob.token, { device: "phone" });
    expect(phone.hello.rev).toBe(30);
    const pages = [await syncPage(phone, 0)];
    while (pages.at(-1)!.more) pages.push(await syncPage(phone, pages.at(-1)!.rev));
    expect(pages.map((p) => [p.messages.length, p.more])).toEqual([
      [10, true],
      [10, true],
      [10, false],
    ]);
    const seqs = pages.flatMap((p) => p.messages.map((m) => m.seq));
    expect(seqs).toEqual(range(1, 30));
    const revs = pages.flatMap((p) => p.messages.map((m) => m.rev));
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(pages.map((p) => p.rev)).toEqual([revs[9], revs[19], revs[29]]);

    const cursor = pages[2]!.rev;
    expect(await syncPage(phone, cursor)).toMatchObject({ messages: [], chats: [], failures: [], more: false, rev: cursor });
    // Reading on the laptop moves the chat's state past the phone's cursor.
    laptop.send({ type: "receipt.read", chat: alice.user, upto: 30 });
    await laptop.next(is("receipt"));
    const later = await syncPage(phone, cursor);
    expect(later.messages).toEqual([]);
    expect(later.chats).toEqual([expect.objectContaining({ chat: alice.user, readByMe: 30, lastIn: 30 })]);
    expect(later.rev).toBeGreaterThan(cursor);
  });
});

describe("a brand-new device", () => {
  it("starts with the newest messages and pages back through a chat's history", async () => {
    const [alice, bob] = await Promise.all([register(worker, "alice"), register(worker, "bob")]);
    const phone = await sockets.open(worker, alice.token, { device: "phone" });
    const b = await sockets.open(worker, bob.token);
    await sendMany(phone, bob.user, 15, "alice");
    await sendMany(b, alice.user, 10, "bob");
    await phone.next(is("msg", (f) => f.message.from === bob.user && f.message.seq === 10));

    const tablet = await sockets.open(worker, alice.token, { device: "tablet" });
    const start = await syncPage(tablet);
    expect(start.more).toBe(false);
    expect(start.rev).toBe(tablet.hello.rev);
    expect(start.messages.map((m) => m.text)).toEqual(range(1, 10).map((i) => `bob ${i}`));
    expect(start.chats).toEqual([expect.objectContaining({ chat: bob.user, lastOut: 15, lastIn: 10 })]);
    expect((await syncPage(tablet, start.rev)).messages).toEqual([]);

    const older = expectType(await tablet.request({ type: "history", chat: bob.user, before: start.messages[0]!.rev, limit: 10 }), "history.page");
    expect(older).toMatchObject({ chat: bob.user, more: true });
    expect(older.messages.map((m) => m.text)).toEqual(range(6, 15).map((i) => `alice ${i}`));
    expect(older.messages.every((m) => m.status === "sent")).toBe(true);

    const oldest = expectType(await tablet.request({ type: "history", chat: bob.user, before: older.messages[0]!.rev, limit: 10 }), "history.page");
    expect(oldest.more).toBe(false);
    expect(oldest.messages.map((m) => m.text)).toEqual(range(1, 5).map((i) => `alice ${i}`));

    const newest = expectType(await tablet.request({ type: "history", chat: bob.user, limit: 3 }), "history.page");
    expect(newest.messages.map((m) => m.text)).toEqual(["bob 8", "bob 9", "bob 10"]);
  });
});
