/**
 * Group receipts: each member has one delivered and one read watermark; the
 * sender of a message hears `group.receipt` when every current member has
 * passed it, and can ask who has it, and since when.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../../src/protocol";
import { connectReady, type Client } from "../helpers";
import { accounts, controlCalls, createGroup, ok, refused, registered, settled } from "./support";

/** The group.receipt frames a device got and nobody took yet, once the group has nothing left to send. */
async function receiptsBuffered(client: Client, id: string): Promise<ServerFrame[]> {
  await settled(id);
  await client.barrier();
  return client.buffered().filter((f) => f.type === "group.receipt");
}

describe("group receipts", () => {
  it("tells the sender delivered once every member has the message, then read once every member has read it", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id } = await createGroup(ann.user, [bob.user, cat.user]);
    const [annPhone, bobPhone, catPhone] = await Promise.all([connectReady(ann), connectReady(bob), connectReady(cat)]);
    annPhone.send({ type: "group.send", ref: "s1", group: id, clientId: "c1", text: "did you get this?" });
    const { seq } = await annPhone.nextOf("group.sent", "s1");

    bobPhone.send({ type: "group.delivered", group: id, upto: seq });
    expect(await receiptsBuffered(annPhone, id)).toEqual([]);
    catPhone.send({ type: "group.delivered", group: id, upto: seq });
    expect(await annPhone.nextOf("group.receipt")).toEqual({ type: "group.receipt", group: id, delivered: seq, read: 0 });

    bobPhone.send({ type: "group.read", group: id, upto: seq });
    expect(await receiptsBuffered(annPhone, id)).toEqual([]);
    catPhone.send({ type: "group.read", group: id, upto: seq });
    expect(await annPhone.nextOf("group.receipt")).toEqual({ type: "group.receipt", group: id, delivered: seq, read: seq });

    // The same watermarks come with every page, for a device that was away.
    annPhone.send({ type: "group.sync", ref: "p", group: id, after: seq });
    expect(await annPhone.nextOf("group.page", "p")).toMatchObject({ messages: [], delivered: seq, read: seq, head: seq });
  });

  it("tells only the senders of the messages a move covers", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
    const [annPhone, bobPhone, catPhone] = await Promise.all([connectReady(ann), connectReady(bob), connectReady(cat)]);
    const fromBob = ok(await group.send(bob.user, "b1", "bob's")).message.seq;
    const fromAnn = ok(await group.send(ann.user, "a1", "ann's")).message.seq;

    for (const user of [ann.user, cat.user]) ok(await group.acknowledge(user, "read", fromBob));
    expect(await bobPhone.nextOf("group.receipt")).toMatchObject({ delivered: fromBob, read: fromBob });
    expect(await receiptsBuffered(annPhone, id)).toEqual([]);

    for (const user of [bob.user, cat.user]) ok(await group.acknowledge(user, "delivered", fromAnn));
    expect(await annPhone.nextOf("group.receipt")).toMatchObject({ delivered: fromAnn, read: fromBob });
    expect(await receiptsBuffered(bobPhone, id)).toEqual([]);
    expect(await receiptsBuffered(catPhone, id)).toEqual([]);
  });

  it("stops waiting for a member who is removed before acknowledging", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
    const annPhone = await connectReady(ann);
    const { seq } = ok(await group.send(ann.user, "c1", "hello")).message;
    ok(await group.acknowledge(bob.user, "delivered", seq));
    expect(await receiptsBuffered(annPhone, id)).toEqual([]);
    ok(await group.remove(ann.user, cat.user));
    expect(await annPhone.nextOf("group.receipt")).toMatchObject({ delivered: seq, read: 0 });
  });

  it("tells the sender the newest watermarks when they move again while a receipt is on its way", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const annPhone = await connectReady(ann);
    const { seq } = ok(await group.send(ann.user, "c1", "hello")).message;
    const annReceipts = await controlCalls(ann.user, "groupReceipt");
    annReceipts.set("hold");

    ok(await group.acknowledge(bob.user, "delivered", seq));
    expect((await annReceipts.nextHeld()).args).toEqual([id, seq, 0]);
    ok(await group.acknowledge(bob.user, "read", seq));
    await annReceipts.recover();
    await runDurableObjectAlarm(group);

    expect(await annPhone.nextOf("group.receipt")).toMatchObject({ delivered: seq, read: 0 });
    expect(await annPhone.nextOf("group.receipt", undefined, 1_000)).toMatchObject({ delivered: seq, read: seq });
  });

  it("never moves a watermark back or past the log's head", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    const { seq } = ok(await group.send(ann, "c1", "hello")).message;
    ok(await group.acknowledge(bob, "read", 1_000));
    ok(await group.acknowledge(bob, "delivered", 1));
    expect(ok(await group.sync(ann, seq, 50))).toMatchObject({ delivered: seq, read: seq, head: seq });
    const next = ok(await group.send(ann, "c2", "again")).message.seq;
    expect(ok(await group.messageInfo(ann, next))).toEqual([{ user: bob, delivered: false, deliveredAt: null, read: false, readAt: null }]);
  });

  it("gives each member's pages that member's own read watermark, so a new device starts with the right unread count", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob, cat]);
    const first = ok(await group.send(ann, "c1", "one")).message.seq;
    const second = ok(await group.send(ann, "c2", "two")).message.seq;
    ok(await group.acknowledge(bob, "read", first));
    expect(ok(await group.sync(bob, undefined, 50)).readByMe).toBe(first);
    expect(ok(await group.history(bob, undefined, 50)).readByMe).toBe(first);
    // Cat has read nothing; Ann wrote the newest message, which reads the group up to it.
    expect(ok(await group.sync(cat, undefined, 50)).readByMe).toBe(0);
    expect(ok(await group.sync(ann, undefined, 50)).readByMe).toBe(second);
  });
});

describe("message info", () => {
  it("lists the other members with whether and when they received and read the message", async () => {
    const [ann, bob, cat, dan] = await registered("ann", "bob", "cat", "dan");
    const { group } = await createGroup(ann, [bob, cat]);
    const message = ok(await group.send(ann, "c1", "hello")).message;
    expect(ok(await group.messageInfo(ann, message.seq))).toEqual([
      { user: bob, delivered: false, deliveredAt: null, read: false, readAt: null },
      { user: cat, delivered: false, deliveredAt: null, read: false, readAt: null },
    ]);

    ok(await group.acknowledge(bob, "delivered", message.seq));
    ok(await group.acknowledge(cat, "read", message.seq));
    ok(await group.add(ann, [dan]));
    const info = ok(await group.messageInfo(ann, message.seq));
    expect(info).toEqual([
      { user: bob, delivered: true, deliveredAt: expect.any(Number), read: false, readAt: null },
      { user: cat, delivered: true, deliveredAt: expect.any(Number), read: true, readAt: expect.any(Number) },
    ]);
    for (const at of [info[0]!.deliveredAt!, info[1]!.deliveredAt!, info[1]!.readAt!]) {
      expect(at).toBeGreaterThanOrEqual(message.sentAt);
      expect(at).toBeLessThanOrEqual(Date.now());
    }

    // A later acknowledgement leaves the first time in place.
    ok(await group.acknowledge(bob, "read", message.seq + 10));
    const later = ok(await group.messageInfo(ann, message.seq));
    expect(later[0]).toMatchObject({ user: bob, deliveredAt: info[0]!.deliveredAt, read: true });
  });

  it("is for the sender only, and only for messages", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    const { seq } = ok(await group.send(ann, "c1", "hello")).message;
    expect(refused(await group.messageInfo(bob, seq))).toBe("not_authorized");
    expect(refused(await group.messageInfo(ann, 1))).toBe("bad_frame");
    expect(refused(await group.messageInfo(ann, seq + 5))).toBe("bad_frame");
  });
});
