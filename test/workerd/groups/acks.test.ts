/**
 * Acknowledgements in bulk: members' `group.delivered` / `group.read` are
 * accepted in memory and written together a few ms later (one commit for a
 * whole burst). What users see must not change: receipts, message info and
 * page watermarks count every accepted move, and a written move survives a
 * restart. The store-level tests show what is deferred and what a restart
 * before the flush would lose (work done again, never a promise broken).
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GroupObject } from "../../../src/objects/group";
import { GroupStore } from "../../../src/objects/group-store";
import { connectReady } from "../helpers";
import { accounts, createGroup, groupStub, newGroupId, ok, registered, settled } from "./support";

/** Runs `test` on a second store over a fresh group object's tables (the object itself stays idle). */
function withStore<R>(test: (store: GroupStore, sql: SqlStorage) => R): Promise<R> {
  return runInDurableObject(groupStub(newGroupId()), (_instance: GroupObject, state) => test(new GroupStore(state.storage), state.storage.sql));
}

/** A group in a store: `owner` and `members`, and `messages` messages from the owner. Returns the head. */
function seed(store: GroupStore, owner: string, members: string[], messages: number): number {
  store.create("g_test", "Test", owner, 1);
  store.addMember(owner, "admin", 0, 1);
  for (const user of members) store.addMember(user, "member", 0, 1);
  for (let i = 0; i < messages; i++) store.append(owner, `c${i}`, `m${i}`, 10 + i);
  return store.head;
}

function storedWatermarks(sql: SqlStorage): Record<string, [number, number]> {
  const rows = sql.exec<{ user: string; delivered: number; read: number }>("SELECT user, delivered, read FROM members").toArray();
  return Object.fromEntries(rows.map((r) => [r.user, [r.delivered, r.read]]));
}

describe("many members acknowledging at once", () => {
  it("tells the sender once per watermark, and message info lists every member with a time", async () => {
    const [ann] = await accounts("ann");
    const members = await registered(...Array.from({ length: 30 }, (_, i) => `m${i}`));
    const { id, group } = await createGroup(ann.user, members);
    const annPhone = await connectReady(ann);
    const message = ok(await group.send(ann.user, "c1", "everyone?")).message;

    (await Promise.all(members.map((user) => group.acknowledge(user, "delivered", message.seq)))).forEach(ok);
    expect(await annPhone.nextOf("group.receipt")).toEqual({ type: "group.receipt", group: id, delivered: message.seq, read: 0 });
    (await Promise.all(members.map((user) => group.acknowledge(user, "read", message.seq)))).forEach(ok);
    expect(await annPhone.nextOf("group.receipt")).toEqual({ type: "group.receipt", group: id, delivered: message.seq, read: message.seq });
    await settled(id);
    await annPhone.barrier();
    expect(annPhone.buffered().filter((f) => f.type === "group.receipt")).toEqual([]);

    const info = ok(await group.messageInfo(ann.user, message.seq));
    expect(info.map((m) => m.user)).toEqual([...members].sort());
    for (const member of info) {
      expect(member).toMatchObject({ delivered: true, read: true });
      expect(member.deliveredAt).toBeGreaterThanOrEqual(message.sentAt);
      expect(member.readAt).toBeGreaterThanOrEqual(member.deliveredAt!);
    }
  });

  it("counts a move in group.msginfo and group.sync as soon as the acknowledgement is answered", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob, cat]);
    const { seq } = ok(await group.send(ann, "c1", "hello")).message;
    ok(await group.acknowledge(bob, "read", seq));
    ok(await group.acknowledge(cat, "delivered", seq));
    // No wait: whether or not the moves were written yet, the answers count them.
    const [info, page] = await Promise.all([group.messageInfo(ann, seq), group.sync(ann, seq, 10)]);
    expect(ok(info).map(({ user, delivered, read }) => ({ user, delivered, read }))).toEqual(
      [
        { user: bob, delivered: true, read: true },
        { user: cat, delivered: true, read: false },
      ].sort((a, b) => a.user.localeCompare(b.user)),
    );
    expect(ok(page)).toMatchObject({ delivered: seq, read: 0, head: seq });
  });

  it("refuses an acknowledgement from someone who is not a member, at once", async () => {
    const [ann, bob, eve] = await registered("ann", "bob", "eve");
    const { group } = await createGroup(ann, [bob]);
    const { seq } = ok(await group.send(ann, "c1", "hello")).message;
    expect(await group.acknowledge(eve, "delivered", seq)).toEqual({ ok: false, code: "not_a_member" });
  });
});

describe("a written acknowledgement", () => {
  it("survives a restart of the group: message info and pages still show it, with its time", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const annPhone = await connectReady(ann);
    const { seq } = ok(await group.send(ann.user, "c1", "hello")).message;
    ok(await group.acknowledge(bob.user, "read", seq));
    // The receipt is sent after the moves are written, in the same event.
    expect(await annPhone.nextOf("group.receipt")).toMatchObject({ delivered: seq, read: seq });
    const before = ok(await group.messageInfo(ann.user, seq));

    await abortAllDurableObjects();

    const restarted = groupStub(id);
    expect(ok(await restarted.messageInfo(ann.user, seq))).toEqual(before);
    expect(before[0]).toMatchObject({ user: bob.user, delivered: true, read: true, readAt: expect.any(Number) });
    expect(ok(await restarted.sync(ann.user, seq, 10))).toMatchObject({ delivered: seq, read: seq });
  });
});

describe("the store's deferred writes", () => {
  it("hold a burst of acknowledgements in memory, counted by every read, and write them with one flush", async () => {
    await withStore((store, sql) => {
      const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
      const head = seed(store, "own", members, 3);
      for (const [i, user] of members.entries()) expect(store.acknowledge(user, i % 2 ? "read" : "delivered", head, 100 + i)).toBe(true);
      // Written: nothing yet.
      expect(storedWatermarks(sql)["m1"]).toEqual([0, 0]);
      expect(sql.exec("SELECT COUNT(*) AS n FROM receipt_marks").one().n).toBe(0);
      // Read: every move.
      expect(store.unflushed).toBe(true);
      expect(store.member("m1")).toMatchObject({ delivered: head, read: head });
      expect(store.currentMembers().find((m) => m.user === "m0")).toMatchObject({ delivered: head, read: 0 });
      expect(store.aggregate()).toEqual({ delivered: head, read: 0 });

      // aggregate() wrote them first.
      expect(store.unflushed).toBe(false);
      const stored = storedWatermarks(sql);
      for (const [i, user] of members.entries()) expect(stored[user]).toEqual(i % 2 ? [head, head] : [head, 0]);
      expect(sql.exec("SELECT COUNT(*) AS n FROM receipt_marks").one().n).toBe(30);
    });
  });

  it("never move a watermark back when an older move is written after a newer one", async () => {
    await withStore((store, sql) => {
      const head = seed(store, "own", ["bob"], 5);
      store.acknowledge("bob", "delivered", 3, 100);
      // The owner's own send sets their watermarks directly; a stale pending move must not undo it.
      store.acknowledge("own", "read", 2, 100);
      store.append("own", "c-late", "late", 200);
      store.flush();
      expect(storedWatermarks(sql)).toEqual({ own: [head + 1, head + 1], bob: [3, 0] });
    });
  });

  it("keep at least the newest 64 moves of a member, trimming older ones in batches", async () => {
    await withStore((store, sql) => {
      const head = seed(store, "own", ["bob"], 200);
      for (let seq = 1; seq <= head; seq++) {
        store.acknowledge("bob", "delivered", seq, 1_000 + seq);
        if (seq % 7 === 0) store.flush();
      }
      store.flush();
      const uptos = sql.exec<{ upto: number }>("SELECT upto FROM receipt_marks WHERE user = 'bob' AND kind = 'delivered' ORDER BY upto").toArray().map((r) => r.upto);
      expect(uptos.length).toBeGreaterThanOrEqual(64);
      expect(uptos.length).toBeLessThan(64 + 32);
      expect(uptos.slice(-64)).toEqual(Array.from({ length: 64 }, (_, i) => head - 63 + i));
      expect(store.messageInfo(head)[0]).toMatchObject({ user: "bob", delivered: true, deliveredAt: 1_000 + head });
    });
  });

  it("trim a member's marks on their first move after a restart, however few moves each instance sees", async () => {
    await runInDurableObject(groupStub(newGroupId()), (_instance: GroupObject, state) => {
      const marks = () => state.storage.sql.exec("SELECT COUNT(*) AS n FROM receipt_marks WHERE user = 'bob'").one().n;
      const before = new GroupStore(state.storage);
      const head = seed(before, "own", ["bob"], 100);
      for (let seq = 1; seq < head; seq++) {
        before.acknowledge("bob", "delivered", seq, seq);
        before.flush();
      }
      expect(marks()).toBeGreaterThan(64);
      const after = new GroupStore(state.storage);
      after.acknowledge("bob", "delivered", head, head);
      after.flush();
      expect(marks()).toBe(64);
    });
  });

  it("leave a finished fan-out's rows until the flush, so a restart before it fans those messages out again", async () => {
    await withStore((store) => {
      const head = seed(store, "own", ["bob"], 3);
      store.fanoutDone(head);
      // What a new instance (after a restart) finds still to fan out.
      expect(store.pendingFanout(0, 10)).toEqual([1, 2, 3]);
      store.flush();
      expect(store.pendingFanout(0, 10)).toEqual([]);
    });
  });

  it("delete a receipt's row at the flush, unless a newer receipt for the same sender was queued meanwhile", async () => {
    const policy = { maxAttempts: 3, baseMs: 1, maxMs: 4 };
    await withStore((store, sql) => {
      seed(store, "own", ["bob", "cat"], 1);
      const queue = () => sql.exec<{ user: string; attempts: number; next_at: number }>("SELECT user, attempts, next_at FROM receipt_queue ORDER BY user").toArray();
      store.enqueueReceipt("bob", 10);
      store.enqueueReceipt("cat", 10);
      expect(store.receiptFailed("cat", policy, 20)).toBe(true);
      store.receiptDone("bob");
      store.receiptDone("cat");
      // Cat's watermarks moved again before the flush: the row stands for that receipt, afresh.
      store.enqueueReceipt("cat", 50);
      expect(store.dueReceipts(1_000, 10)).toEqual(["cat"]);
      expect(queue()).toEqual([{ user: "cat", attempts: 0, next_at: 50 }]);
    });
  });
});
