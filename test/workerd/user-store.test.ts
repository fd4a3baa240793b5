/**
 * The per-user SQLite store, driven directly inside a fresh UserObject's
 * storage (one object per test).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../../src/config";
import type { UserStore, WireMessage } from "../../src/objects/user-store";
import { freshName, inStore } from "./helpers";

const policy: RetryPolicy = { maxAttempts: 3, baseMs: 1, maxMs: 4 };
const ME = "me_user";

/** Runs `body` against a new user's store whose owner is ME. */
function withStore<R>(body: (store: UserStore) => R): Promise<R> {
  return inStore(freshName("store"), (store) => {
    store.setOwner(ME);
    return body(store);
  });
}

function wire(from: string, seq: number, to = ME): WireMessage {
  return { id: `${from}-${to}-${seq}`, from, to, seq, clientId: `${from}-c${seq}`, text: `hello ${seq}`, sentAt: 1_000 + seq };
}

function sendMany(store: UserStore, peer: string, count: number, prefix = peer) {
  return Array.from({ length: count }, (_, i) => store.storeOutgoing(ME, peer, `${prefix}-${i}`, `text ${i}`, 1_000 + i));
}

describe("sending", () => {
  it("numbers each chat's outgoing messages 1, 2, 3 on its own, under one rising rev", async () => {
    const sent = await withStore((store) => {
      const out = [];
      for (const peer of ["bob", "carol", "bob", "bob", "carol"]) out.push(store.storeOutgoing(ME, peer, crypto.randomUUID(), "hi", 1));
      return out;
    });
    expect(sent.map((m) => [m.to, m.seq])).toEqual([["bob", 1], ["carol", 1], ["bob", 2], ["bob", 3], ["carol", 2]]);
    expect(sent.map((m) => m.rev)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(sent.map((m) => m.id)).size).toBe(5);
  });

  it("finds a sent message by its client id so that a resend can get the same answer", async () => {
    const { first, found, missing } = await withStore((store) => {
      const first = store.storeOutgoing(ME, "bob", "c-1", "hi", 42);
      return { first, found: store.sentByClientId("c-1"), missing: store.sentByClientId("c-2") };
    });
    expect(found).toMatchObject({ id: first.id, seq: first.seq, rev: first.rev, chat: "bob", sentAt: 42, status: "sent" });
    expect(missing).toBeUndefined();
  });

  it("refuses to store a second message with a client id already used", async () => {
    const outcome = await withStore((store) => {
      store.storeOutgoing(ME, "bob", "c-1", "hi", 1);
      let error: unknown;
      try {
        store.storeOutgoing(ME, "bob", "c-1", "hi again", 2);
      } catch (err) {
        error = err;
      }
      return { error: String(error), messages: store.syncAfter(0, 10).messages.length };
    });
    expect(outcome.error).toMatch(/UNIQUE/);
    expect(outcome.messages).toBe(1);
  });

  it("writes no queue row for a hand-over until one fails, then queues every pending message for retry", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 3);
      store.deliveredToPeer("bob", 1);
      const rows = () => store.nextDueAt();
      const before = rows();
      const failures = store.deliveryFailed("bob", "overloaded", policy, 100);
      return { before, due: store.duePeers(Number.MAX_SAFE_INTEGER), failures, queuedUntil: store.peerDueAt("bob"), pending: store.pendingFor("bob", 10).map((m) => m.seq) };
    });
    expect(result.before).toBeUndefined();
    expect(result.due).toEqual(["bob"]);
    expect(result.failures).toEqual([]);
    expect(result.queuedUntil).toBeGreaterThan(100);
    expect(result.pending).toEqual([2, 3]);
  });

  it("finds messages a restart cut off: stored, not yet handed over, with no retry queue", async () => {
    const unhanded = await withStore((store) => {
      sendMany(store, "bob", 2);
      sendMany(store, "carol", 1);
      store.deliveredToPeer("carol", 1);
      return store.unhandedPeers();
    });
    expect(unhanded).toEqual(["bob"]);
  });

  it("queues each new message for delivery, oldest first, until the peer has it", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 3);
      sendMany(store, "carol", 1);
      const before = store.pendingFor("bob", 10).map((m) => m.seq);
      store.deliveredToPeer("bob", 2);
      return { before, after: store.pendingFor("bob", 10).map((m) => m.seq), carol: store.hasPending("carol"), limited: store.pendingFor("bob", 0) };
    });
    expect(result.before).toEqual([1, 2, 3]);
    expect(result.after).toEqual([3]);
    expect(result.carol).toBe(true);
    expect(result.limited).toEqual([]);
  });
});

describe("receiving", () => {
  it("stores a retried batch only once and returns only what is new", async () => {
    const result = await withStore((store) => {
      const first = store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2)]);
      const retry = store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2), wire("bob", 3)]);
      const again = store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2), wire("bob", 3)]);
      return { first, retry, again, all: store.syncAfter(0, 100).messages, chat: store.chat("bob") };
    });
    expect(result.first.stored.map((m) => m.seq)).toEqual([1, 2]);
    expect(result.retry.stored.map((m) => m.seq)).toEqual([3]);
    expect(result.again).toEqual({ stored: [], lastIn: 3 });
    expect(result.all.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(result.chat).toMatchObject({ lastIn: 3, lastOut: 0 });
  });

  it("stores a batch in seq order and a seq repeated within it once", async () => {
    const { stored, lastIn } = await withStore((store) => store.storeIncoming("bob", [wire("bob", 3), wire("bob", 1), wire("bob", 2), wire("bob", 2)]));
    expect(lastIn).toBe(3);
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(stored.map((m) => m.rev)).toEqual([1, 2, 3]);
  });

  it("marks received messages as coming from the peer to me, without a status", async () => {
    const [message] = await withStore((store) => store.storeIncoming("bob", [wire("bob", 1)]).stored);
    expect(message).toEqual({ id: "bob-me_user-1", chat: "bob", from: "bob", to: ME, seq: 1, clientId: "bob-c1", text: "hello 1", sentAt: 1_001, rev: 1 });
  });
});

describe("sync", () => {
  it("returns exactly the messages after the cursor, in log order", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 2);
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2)]);
      sendMany(store, "carol", 1);
      return { all: store.syncAfter(0, 100), afterTwo: store.syncAfter(2, 100), atHead: store.syncAfter(5, 100) };
    });
    expect(result.all.messages.map((m) => m.rev)).toEqual([1, 2, 3, 4, 5]);
    expect(result.all).toMatchObject({ rev: 5, more: false });
    expect(result.afterTwo.messages.map((m) => [m.rev, m.chat, m.from])).toEqual([
      [3, "bob", "bob"],
      [4, "bob", "bob"],
      [5, "carol", ME],
    ]);
    expect(result.atHead).toMatchObject({ messages: [], rev: 5, more: false });
  });

  it("pages with more and a cursor that the next page continues from", async () => {
    const pages = await withStore((store) => {
      sendMany(store, "bob", 5);
      const out = [];
      let after = 0;
      for (;;) {
        const page = store.syncAfter(after, 2);
        out.push({ revs: page.messages.map((m) => m.rev), rev: page.rev, more: page.more });
        if (!page.more) break;
        after = page.rev;
      }
      return out;
    });
    expect(pages).toEqual([
      { revs: [1, 2], rev: 2, more: true },
      { revs: [3, 4], rev: 4, more: true },
      { revs: [5], rev: 5, more: false },
    ]);
  });

  it("pages from any cursor with any page size to exactly the later messages, once each (property)", async () => {
    await withStore((store) => {
      const peers = ["bob", "carol", "dave"];
      for (let i = 0; i < 30; i++) {
        const peer = peers[i % 3]!;
        if (i % 2 === 0) store.storeOutgoing(ME, peer, `c${i}`, "x", i);
        else store.storeIncoming(peer, [wire(peer, Math.floor(i / 2) + 1)]);
      }
      const head = store.rev;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: head }), fc.integer({ min: 1, max: 40 }), (start, limit) => {
          const seen: number[] = [];
          let after = start;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThanOrEqual(head);
            const page = store.syncAfter(after, limit);
            expect(page.messages.length).toBeLessThanOrEqual(limit);
            seen.push(...page.messages.map((m) => m.rev));
            after = page.rev;
            if (!page.more) break;
          }
          expect(seen).toEqual(Array.from({ length: head - start }, (_, i) => start + i + 1));
          expect(after).toBe(head);
        }),
      );
    });
  });

  it("includes chats whose receipt watermarks moved after the cursor", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 2);
      sendMany(store, "carol", 1);
      const cursor = store.rev;
      store.applyPeerReceipts("bob", 2, 1);
      return { page: store.syncAfter(cursor, 10), before: store.syncAfter(0, 10).chats.map((c) => c.chat) };
    });
    expect(result.page.messages).toEqual([]);
    expect(result.page.chats).toEqual([{ chat: "bob", delivered: 2, read: 1, readByMe: 0, lastIn: 0, lastOut: 2, rev: 4 }]);
    expect(result.page.rev).toBe(4);
    expect(result.before).toEqual(["bob"]);
  });

  it("reports a message that failed after the device synced it as a failure", async () => {
    const page = await withStore((store) => {
      const [message] = sendMany(store, "bob", 1);
      const cursor = store.rev;
      for (let i = 0; i < policy.maxAttempts; i++) store.deliveryFailed("bob", "down", policy, 0);
      return { page: store.syncAfter(cursor, 10), message: message! };
    });
    expect(page.page.messages).toEqual([]);
    expect(page.page.failures).toEqual([{ id: page.message.id, clientId: "bob-0", chat: "bob", seq: 1, reason: "unreachable", rev: 2 }]);
  });

  it("gives a new device the newest messages, oldest first, and every chat", async () => {
    const recent = await withStore((store) => {
      sendMany(store, "bob", 3);
      store.storeIncoming("carol", [wire("carol", 1), wire("carol", 2)]);
      return store.recent(3);
    });
    expect(recent.messages.map((m) => [m.rev, m.chat])).toEqual([
      [3, "bob"],
      [4, "carol"],
      [5, "carol"],
    ]);
    expect(recent.chats.map((c) => c.chat).sort()).toEqual(["bob", "carol"]);
    expect(recent.rev).toBe(5);
  });

  it("recovers the log head from storage when the store is opened again", async () => {
    const name = freshName("store");
    const before = await inStore(name, (store) => {
      store.setOwner(ME);
      sendMany(store, "bob", 2);
      store.applyPeerReceipts("bob", 1, 0); // the head is now a chat's rev
      return store.rev;
    });
    const after = await inStore(name, (store) => ({ rev: store.rev, next: store.storeOutgoing(ME, "bob", "later", "hi", 1) }));
    expect(before).toBe(3);
    expect(after.rev).toBe(3);
    expect(after.next).toMatchObject({ rev: 4, seq: 3 });
  });
});

describe("history", () => {
  it("pages one chat backwards by rev, each page oldest first", async () => {
    const result = await withStore((store) => {
      for (let i = 1; i <= 5; i++) {
        store.storeOutgoing(ME, "bob", `b${i}`, `to bob ${i}`, i);
        store.storeIncoming("carol", [wire("carol", i)]);
      }
      const newest = store.history("bob", undefined, 2);
      const older = store.history("bob", newest.messages[0]!.rev, 2);
      const oldest = store.history("bob", older.messages[0]!.rev, 2);
      return { newest, older, oldest };
    });
    expect(result.newest.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(result.newest.more).toBe(true);
    expect(result.older.messages.map((m) => m.seq)).toEqual([2, 3]);
    expect(result.older.more).toBe(true);
    expect(result.oldest.messages.map((m) => m.seq)).toEqual([1]);
    expect(result.oldest.more).toBe(false);
    expect([result.newest, result.older, result.oldest].flatMap((p) => p.messages).every((m) => m.chat === "bob")).toBe(true);
  });
});

describe("receipts", () => {
  it("never lets the peer's watermarks pass what I sent", async () => {
    const chat = await withStore((store) => {
      sendMany(store, "bob", 2);
      return store.applyPeerReceipts("bob", 10, 10);
    });
    expect(chat).toMatchObject({ delivered: 2, read: 2, lastOut: 2 });
  });

  it("never moves the peer's watermarks backwards, and says when nothing moved", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 5);
      const first = store.applyPeerReceipts("bob", 4, 3);
      const backwards = store.applyPeerReceipts("bob", 1, 1);
      return { first, backwards, chat: store.chat("bob") };
    });
    expect(result.first).toMatchObject({ delivered: 4, read: 3 });
    expect(result.backwards).toBeUndefined();
    expect(result.chat).toMatchObject({ delivered: 4, read: 3 });
  });

  it("treats read as delivered too", async () => {
    const chat = await withStore((store) => {
      sendMany(store, "bob", 5);
      return store.applyPeerReceipts("bob", 0, 3);
    });
    expect(chat).toMatchObject({ delivered: 3, read: 3 });
  });

  it("ignores peer receipts for a chat I do not have", async () => {
    expect(await withStore((store) => store.applyPeerReceipts("stranger", 1, 1))).toBeUndefined();
  });

  it("caps my acknowledgements at what I received and never moves them backwards", async () => {
    const result = await withStore((store) => {
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2), wire("bob", 3)]);
      return {
        delivered: store.acknowledge("bob", "delivered", 99),
        deliveredAgain: store.acknowledge("bob", "delivered", 2),
        read: store.acknowledge("bob", "read", 2),
        readBackwards: store.acknowledge("bob", "read", 1),
        toSend: store.receiptToSend("bob"),
        unknown: store.acknowledge("stranger", "read", 1),
      };
    });
    expect(result.delivered).toEqual({ moved: true });
    expect(result.deliveredAgain).toEqual({ moved: false });
    expect(result.read).toMatchObject({ moved: true, chat: { chat: "bob", readByMe: 2, lastIn: 3 } });
    expect(result.readBackwards).toEqual({ moved: false });
    expect(result.toSend).toEqual({ delivered: 3, read: 2 });
    expect(result.unknown).toBeUndefined();
  });

  it("counts a read acknowledgement as delivered", async () => {
    const toSend = await withStore((store) => {
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2)]);
      store.acknowledge("bob", "read", 2);
      return store.receiptToSend("bob");
    });
    expect(toSend).toEqual({ delivered: 2, read: 2 });
  });

  it("tells the peer only watermarks it has not taken yet, newest first", async () => {
    const result = await withStore((store) => {
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2), wire("bob", 3)]);
      store.acknowledge("bob", "delivered", 1);
      store.acknowledge("bob", "delivered", 2);
      const coalesced = store.receiptToSend("bob");
      store.receiptSent("bob", 2, 0);
      const afterSent = store.receiptToSend("bob");
      store.acknowledge("bob", "read", 3);
      return { coalesced, afterSent, afterRead: store.receiptToSend("bob"), untold: store.untoldPeers() };
    });
    expect(result.coalesced).toEqual({ delivered: 2, read: 0 });
    expect(result.afterSent).toBeUndefined();
    expect(result.afterRead).toEqual({ delivered: 3, read: 3 });
    expect(result.untold).toEqual(["bob"]);
  });

  it("keeps a receipt that moved on while an older one was in flight", async () => {
    const toSend = await withStore((store) => {
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2)]);
      store.acknowledge("bob", "read", 1);
      const inFlight = store.receiptToSend("bob")!;
      store.acknowledge("bob", "read", 2);
      store.receiptSent("bob", inFlight.delivered, inFlight.read);
      return store.receiptToSend("bob");
    });
    expect(toSend).toEqual({ delivered: 2, read: 2 });
  });

  it("queues a receipt whose call failed for a retry, and drops it once it has used all its attempts", async () => {
    const result = await withStore((store) => {
      store.storeIncoming("bob", [wire("bob", 1)]);
      store.acknowledge("bob", "delivered", 1);
      const first = store.receiptFailed("bob", policy, 0);
      const queued = { due: store.dueReceiptPeers(10), untold: store.untoldPeers() };
      const kept = [first, store.receiptFailed("bob", policy, 0), store.receiptFailed("bob", policy, 0)];
      return { queued, kept, toSend: store.receiptToSend("bob"), due: store.dueReceiptPeers(Number.MAX_SAFE_INTEGER), untold: store.untoldPeers() };
    });
    // While it waits out its backoff, the sweep leaves it to its retry row.
    expect(result.queued).toEqual({ due: ["bob"], untold: [] });
    expect(result.kept).toEqual([true, true, false]);
    expect(result.toSend).toBeUndefined();
    expect(result.due).toEqual([]);
    expect(result.untold).toEqual([]);
  });
});

describe("message status", () => {
  it("derives sent, delivered and read from the chat's watermarks", async () => {
    const statuses = await withStore((store) => {
      sendMany(store, "bob", 4);
      store.applyPeerReceipts("bob", 3, 1);
      return store.history("bob", undefined, 10).messages.map((m) => m.status);
    });
    expect(statuses).toEqual(["read", "delivered", "delivered", "sent"]);
  });

  it("marks a message failed once its delivery used all attempts, and only then", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 1);
      const failures = [1, 2, 3].map(() => store.deliveryFailed("bob", "Error: overloaded", policy, 1_000));
      return { failures, message: store.sentByClientId("bob-0"), queued: store.hasPending("bob"), due: store.nextDueAt() };
    });
    expect(result.failures[0]).toEqual([]);
    expect(result.failures[1]).toEqual([]);
    expect(result.failures[2]).toMatchObject([{ clientId: "bob-0", chat: "bob", seq: 1, reason: "unreachable" }]);
    expect(result.message).toMatchObject({ status: "failed", failReason: "unreachable" });
    expect(result.queued).toBe(false);
    expect(result.due).toBeUndefined();
  });

  it("backs off the whole queue of a peer after a failed attempt", async () => {
    const result = await withStore((store) => {
      sendMany(store, "bob", 2);
      store.deliveryFailed("bob", "down", policy, 1_000);
      return { due: store.nextDueAt(), duePeers: store.duePeers(1_000), later: store.duePeers(1_004) };
    });
    expect(result.due).toBeGreaterThanOrEqual(1_001);
    expect(result.due).toBeLessThanOrEqual(1_004);
    expect(result.duePeers).toEqual([]);
    expect(result.later).toEqual(["bob"]);
  });
});

describe("the store's copy of chat rows", () => {
  it("agrees with what is stored after sends, hand-overs, receipts, failures and acknowledgements", async () => {
    const result = await inStore(freshName("store"), (store, state) => {
      store.setOwner(ME);
      sendMany(store, "bob", 3);
      store.deliveredToPeer("bob", 2);
      store.storeIncoming("bob", [wire("bob", 1), wire("bob", 2)]);
      store.acknowledge("bob", "delivered", 2);
      store.receiptSent("bob", 2, 0);
      store.applyPeerReceipts("bob", 2, 1);
      store.acknowledge("bob", "read", 1);
      store.receiptFailed("bob", policy, 0);
      store.deliveryFailed("bob", "overloaded", policy, 0);
      sendMany(store, "bob", 1, "later");
      store.writeAllLazyMarks();
      // A second store on the same storage starts with no copies: it reads the table.
      const fresh = new (store.constructor as new (storage: DurableObjectStorage) => UserStore)(state.storage);
      return { cached: store.chat("bob"), stored: fresh.chat("bob"), cachedToSend: store.receiptToSend("bob"), storedToSend: fresh.receiptToSend("bob") };
    });
    expect(result.cached).toEqual(result.stored);
    expect(result.cached).toMatchObject({ lastOut: 4, lastIn: 2, delivered: 2, read: 1, readByMe: 1 });
    expect(result.cachedToSend).toEqual(result.storedToSend);
  });
});
