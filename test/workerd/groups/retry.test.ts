/**
 * The group's fan-out when a member's object does not answer: the member is
 * queued and retried from the alarm, the others carry on, and after the last
 * attempt the sender hears which member was not reached.
 * The workerd project retries fast (3 attempts, 1 to 4 ms apart), so the
 * runtime's own alarms fire within milliseconds.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../../src/protocol";
import { connectReady, waitUntil, type Client } from "../helpers";
import { accounts, controlCalls, createGroup, groupRows, ok, registered, settled, userRows } from "./support";

const MAX_ATTEMPTS = Number(env.DELIVERY_MAX_ATTEMPTS);

type QueueRow = { user: string; after_seq: number; upto_seq: number; membership: number; attempts: number };

function queueOf(id: string): Promise<QueueRow[]> {
  return groupRows<QueueRow>(id, "SELECT user, after_seq, upto_seq, membership, attempts FROM member_queue ORDER BY user");
}

function groupMsg(seq: number): (f: ServerFrame) => boolean {
  return (f) => f.type === "group.msg" && f.message.seq === seq;
}

/** Seqs of the group.msg frames a device got and nobody took yet. */
function bufferedSeqs(client: Client): number[] {
  return client.buffered().flatMap((f) => (f.type === "group.msg" ? [f.message.seq] : []));
}

/** Ann, Bob and Cat in a new group, Bob's and Cat's phones online, and Bob's object holding every call it gets. */
async function threeWithBobHeld() {
  const [ann, bob, cat] = await accounts("ann", "bob", "cat");
  const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
  const bobPhone = await connectReady(bob);
  const catPhone = await connectReady(cat);
  const bobDelivery = await controlCalls(bob.user);
  bobDelivery.set("hold");
  return { ann, bob, cat, id, group, bobPhone, catPhone, bobDelivery };
}

describe("a member whose object does not answer", () => {
  it("is queued and receives the message from the alarm once it answers again, exactly once", async () => {
    const { ann, bob, id, group, bobPhone, catPhone, bobDelivery } = await threeWithBobHeld();

    const { message } = ok(await group.send(ann.user, "c1", "hello"));
    const first = await bobDelivery.nextHeld();
    expect(first.args).toEqual([id, { messages: [message] }]);
    await catPhone.next(groupMsg(message.seq));
    await first.fail();

    await waitUntil(async () => (await queueOf(id)).length === 1, "bob is queued");
    expect(await queueOf(id)).toEqual([{ user: bob.user, after_seq: message.seq - 1, upto_seq: message.seq, membership: 0, attempts: 1 }]);
    const retry = runDurableObjectAlarm(group);
    const second = await bobDelivery.nextHeld();
    expect(await queueOf(id)).toHaveLength(1);
    bobDelivery.set("up");
    await second.pass();
    await retry;

    expect((await bobPhone.next(groupMsg(message.seq))).type).toBe("group.msg");
    await settled(id);
    await bobPhone.barrier();
    expect(bufferedSeqs(bobPhone)).not.toContain(message.seq);
    expect(await queueOf(id)).toEqual([]);
  });

  it("does not hold back later messages to the other members while its call hangs", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { group } = await createGroup(ann.user, [bob.user, cat.user]);
    const catPhone = await connectReady(cat);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("hold");

    const one = ok(await group.send(ann.user, "c1", "one")).message;
    const hanging = await bobDelivery.nextHeld();
    await catPhone.next(groupMsg(one.seq));
    const two = ok(await group.send(ann.user, "c2", "two")).message;
    // Bob's first call has not returned, yet Cat gets the next message.
    await catPhone.next(groupMsg(two.seq), 1_000);
    bobDelivery.set("up");
    await hanging.pass();
  });

  it("gets what was sent while its call hung in its next call, in order, once each", async () => {
    const { ann, bob, cat, id, group, bobPhone, catPhone, bobDelivery } = await threeWithBobHeld();

    const one = ok(await group.send(ann.user, "c1", "one")).message;
    const hanging = await bobDelivery.nextHeld();
    const two = ok(await group.send(cat.user, "c2", "two")).message;
    const three = ok(await group.send(ann.user, "c3", "three")).message;
    await catPhone.next(groupMsg(three.seq));
    // One call at a time per member: nothing more was sent to Bob meanwhile.
    expect(bobDelivery.calls).toBe(1);
    await hanging.pass();
    const next = await bobDelivery.nextHeld();
    expect(next.args).toEqual([id, { messages: [two, three] }]);
    bobDelivery.set("up");
    await next.pass();

    await settled(id);
    await bobPhone.barrier();
    expect(bufferedSeqs(bobPhone).filter((s) => s >= one.seq)).toEqual([one.seq, two.seq, three.seq]);
    expect(await queueOf(id)).toEqual([]);
  });

  it("gets membership news queued while its call hung after that call, in order", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const bobPhone = await connectReady(bob);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("hold");

    const one = ok(await group.send(ann.user, "c1", "one")).message;
    const hanging = await bobDelivery.nextHeld();
    ok(await group.rename(ann.user, "Renamed"));
    const two = ok(await group.send(ann.user, "c2", "two")).message;
    expect(bobDelivery.calls).toBe(1);
    bobDelivery.set("up");
    await hanging.pass();

    expect((await bobPhone.nextOf("group.changed")).membership).toMatchObject({ group: id, name: "Renamed" });
    await settled(id);
    await bobPhone.barrier();
    expect(bufferedSeqs(bobPhone).filter((s) => s >= one.seq)).toEqual([one.seq, one.seq + 1, two.seq]);
    expect(await queueOf(id)).toEqual([]);
  });

  it("receives messages sent while it was queued after the earlier ones, in order, once each", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
    const bobPhone = await connectReady(bob);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("hold");

    const one = ok(await group.send(ann.user, "c1", "one")).message;
    await (await bobDelivery.nextHeld()).fail();
    await waitUntil(async () => (await queueOf(id)).length === 1, "bob is queued");
    const two = ok(await group.send(cat.user, "c2", "two")).message;
    const three = ok(await group.send(ann.user, "c3", "three")).message;
    await bobDelivery.recover();
    await runDurableObjectAlarm(group);

    await settled(id);
    await bobPhone.barrier();
    expect(bufferedSeqs(bobPhone).filter((s) => s >= one.seq)).toEqual([one.seq, two.seq, three.seq]);
  });

  it("learns of a membership it missed once it answers again", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, []);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("hold");
    ok(await group.add(ann.user, [bob.user]));
    await (await bobDelivery.nextHeld()).fail();
    await waitUntil(async () => ((await queueOf(id))[0]?.membership ?? 0) > 0, "bob's membership is queued");
    await bobDelivery.recover();
    await runDurableObjectAlarm(group);
    await settled(id);
    expect(await userRows(bob.user, "SELECT id, role, active FROM groups")).toEqual([{ id, role: "member", active: 1 }]);
  });
});

describe("a member that stays down", () => {
  it("is given up on; the sender's devices hear which member, and the others got the message", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
    const annPhone = await connectReady(ann);
    const catPhone = await connectReady(cat);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");

    annPhone.send({ type: "group.send", ref: "s1", group: id, clientId: "c1", text: "anyone?" });
    const sent = await annPhone.nextOf("group.sent", "s1");
    await catPhone.next(groupMsg(sent.seq));
    const failed = await annPhone.nextOf("group.failed");
    expect(failed).toEqual({ type: "group.failed", group: id, seq: sent.seq, id: sent.id, clientId: "c1", members: [bob.user] });

    await settled(id);
    expect(await queueOf(id)).toEqual([]);
    // The message is not lost to Bob: it stays in the log he syncs from.
    const page = ok(await group.sync(bob.user, sent.seq - 1, 50));
    expect(page.messages.map((m) => m.id)).toEqual([sent.id]);
  });

  it("is called DELIVERY_MAX_ATTEMPTS times in all, the first fan-out call included", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { id, group } = await createGroup(ann, [bob]);
    const bobDelivery = await controlCalls(bob);
    bobDelivery.set("down");
    ok(await group.send(ann, "c1", "anyone?"));
    await waitUntil(async () => bobDelivery.calls >= MAX_ATTEMPTS, "every attempt was made");
    await settled(id);
    expect(bobDelivery.calls).toBe(MAX_ATTEMPTS);
  });

  it("is tried afresh for the next message after being given up on", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id, group } = await createGroup(ann.user, [bob.user, cat.user]);
    const bobPhone = await connectReady(bob);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");
    ok(await group.send(ann.user, "c1", "lost push"));
    await waitUntil(async () => bobDelivery.calls >= MAX_ATTEMPTS, "every attempt was made");
    await settled(id);

    bobDelivery.set("up");
    const next = ok(await group.send(ann.user, "c2", "back?")).message;
    expect((await bobPhone.next(groupMsg(next.seq))).type).toBe("group.msg");
  });
});

describe("membership news that could not be delivered", () => {
  /** Ann's group, Bob's object down while Ann adds him, until every attempt was made and nothing is queued. */
  async function bobAddedWhileDown() {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [], "Lunch");
    const bobPhone = await connectReady(bob);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");
    ok(await group.add(ann.user, [bob.user]));
    await waitUntil(async () => bobDelivery.calls >= MAX_ATTEMPTS, "every attempt was made");
    await settled(id);
    return { ann, bob, id, group, bobPhone, bobDelivery };
  }

  it("reaches a member added while its object was down, once it answers again", async () => {
    const { ann, group, bobPhone, bobDelivery } = await bobAddedWhileDown();

    await bobDelivery.recover();
    const { seq } = ok(await group.send(ann.user, "c1", "welcome, bob")).message;
    await bobPhone.next(groupMsg(seq), 1_000);
  });

  it("goes in the same call as the next message the member is shown", async () => {
    const { ann, bob, id, group, bobDelivery } = await bobAddedWhileDown();
    expect(await userRows(bob.user, "SELECT id FROM groups")).toEqual([]);

    bobDelivery.set("hold");
    const { message } = ok(await group.send(ann.user, "c1", "welcome, bob"));
    const call = await bobDelivery.nextHeld();
    expect(call.args).toEqual([id, { membership: { group: id, name: "Lunch", role: "member", active: true }, messages: [message] }]);
    bobDelivery.set("up");
    await call.pass();
    await settled(id);
    expect(await userRows(bob.user, "SELECT id, role, active FROM groups")).toEqual([{ id, role: "member", active: 1 }]);
  });

  it("reaches a member removed while its object was down, once their object acknowledges, though it acknowledged before", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const { seq } = ok(await group.send(ann.user, "c1", "hi bob")).message;
    // Known to the group as a member with nothing owed...
    ok(await group.acknowledge(bob.user, "delivered", seq));
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");
    ok(await group.remove(ann.user, bob.user));
    await waitUntil(async () => bobDelivery.calls >= MAX_ATTEMPTS, "every attempt was made");
    await settled(id);

    // ...and now owed his removal, which his next acknowledgement brings.
    await bobDelivery.recover();
    ok(await group.acknowledge(bob.user, "read", seq));
    await waitUntil(async () => (await userRows<{ active: number }>(bob.user, "SELECT active FROM groups WHERE id = ?", id))[0]?.active === 0, "bob's object knows he was removed");
    await settled(id);
  });

  it("is told again by the alarm when no message or call reaches the member", async () => {
    const { bob, id, group, bobDelivery } = await bobAddedWhileDown();
    const [owed] = await groupRows<{ at: number }>(id, "SELECT membership_retry_at AS at FROM members WHERE user = ?", bob.user);
    expect(owed!.at).toBeGreaterThan(Date.now());
    await bobDelivery.recover();

    // The retry time comes (moved to now rather than waiting for it).
    await groupRows(id, "UPDATE members SET membership_retry_at = 1 WHERE user = ?", bob.user);
    await runDurableObjectAlarm(group);
    await waitUntil(async () => (await userRows(bob.user, "SELECT id FROM groups WHERE id = ?", id)).length === 1, "bob's object knows the group");
    await settled(id);
    expect(await groupRows(id, "SELECT membership_retry_at AS at FROM members WHERE user = ?", bob.user)).toEqual([{ at: 0 }]);
  });

  it("reaches a member removed while its object was down, once one of their devices syncs the group", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");
    ok(await group.remove(ann.user, bob.user));
    await waitUntil(async () => bobDelivery.calls >= MAX_ATTEMPTS, "every attempt was made");
    await settled(id);
    // No later message reaches a former member: his object still lists the group as his.
    ok(await group.send(ann.user, "c1", "bob is gone"));
    await settled(id);
    expect(await userRows(bob.user, "SELECT active FROM groups WHERE id = ?", id)).toEqual([{ active: 1 }]);

    await bobDelivery.recover();
    ok(await group.sync(bob.user, 0, 50));
    await waitUntil(async () => (await userRows<{ active: number }>(bob.user, "SELECT active FROM groups WHERE id = ?", id))[0]?.active === 0, "bob's object knows he was removed");
    await settled(id);
  });
});

describe("membership news that changes while it is on its way", () => {
  it("reaches the member's object as it ended, not as it was when the first call left", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("hold");
    ok(await group.setRole(ann.user, bob.user, "promote"));
    const promoted = await bobDelivery.nextHeld();
    expect(promoted.args[1]).toMatchObject({ membership: { role: "admin" } });

    // Changed again while the call telling "admin" is still out.
    ok(await group.setRole(ann.user, bob.user, "demote"));
    bobDelivery.set("up");
    await promoted.pass();
    await settled(id);
    expect(await userRows(bob.user, "SELECT role FROM groups WHERE id = ?", id)).toEqual([{ role: "member" }]);
  });
});

describe("who hears of a failure", () => {
  it("tells only the sender of the message, not the other members", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const { id } = await createGroup(ann.user, [bob.user, cat.user]);
    const annPhone = await connectReady(ann);
    const catPhone = await connectReady(cat);
    const bobDelivery = await controlCalls(bob.user);
    bobDelivery.set("down");
    catPhone.send({ type: "group.send", ref: "s1", group: id, clientId: "c1", text: "from cat" });
    const sent = await catPhone.nextOf("group.sent", "s1");
    expect(await catPhone.nextOf("group.failed")).toMatchObject({ seq: sent.seq, members: [bob.user] });
    await annPhone.next(groupMsg(sent.seq));
    await settled(id);
    await annPhone.barrier();
    expect(annPhone.buffered().filter((f) => f.type === "group.failed")).toEqual([]);
  });
});
