/**
 * The retry queues: what a sender's object does while the recipient's object
 * is unreachable, how the alarm retries, and when it gives up.
 * The workerd project retries fast (3 attempts, 1 to 4 ms apart), so the
 * runtime's own alarms fire within milliseconds; `runDurableObjectAlarm`
 * runs a due retry at once rather than waiting for it.
 */
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_RECOVERY_MS, intVar } from "../../src/config";
import type { UserObject } from "../../src/objects/user";
import type { WireMessage } from "../../src/objects/user-store";
import { callInObject, connectReady, inStore, outboxOf, register, userStub, waitUntil, type Account, type Client } from "./helpers";
import { breakMethod, holdCalls } from "./outage";

async function pair(): Promise<{ alice: Account; bob: Account; alicePhone: Client; bobPhone: Client }> {
  const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
  const bobPhone = await connectReady(bob);
  const alicePhone = await connectReady(alice);
  return { alice, bob, alicePhone, bobPhone };
}

function seqsOf(call: { args: unknown[] }): number[] {
  return (call.args[2] as WireMessage[]).map((m) => m.seq);
}

/** Runs the user's alarm (when one is set) until `outcome` settles. */
async function runAlarmsUntil<T>(user: string, outcome: Promise<T>): Promise<T> {
  let settled = false;
  outcome.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await runDurableObjectAlarm(userStub(user));
    await scheduler.wait(1);
  }
  return outcome;
}

function messagesOf(user: string) {
  return inStore(user, (store) => store.syncAfter(0, 100).messages);
}

describe("a recipient that cannot be reached", () => {
  it("really refuses RPC while its method is broken, and answers again once repaired", async () => {
    const { alice, bob } = await pair();
    const outage = await breakMethod(bob.user, "receive");
    // Called from alice's object, as a delivery would be.
    const callBob = () => callInObject(alice.user, () => userStub(bob.user).receive(alice.user, bob.user, []));
    expect(await callBob()).toEqual({ ok: false, error: "Error: overloaded" });
    outage.repair();
    expect(await callBob()).toEqual({ ok: true, value: { lastIn: 0 } });
  });

  it("keeps the message queued while the recipient is down and delivers it once from the alarm after it recovers", async () => {
    const { alice, bob, alicePhone, bobPhone } = await pair();
    const calls = await holdCalls(bob.user, "receive");
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "are you there?" });
    // Stored, so acknowledged, whatever happens to the delivery.
    const sent = await alicePhone.nextOf("msg.sent", "r");

    const first = await calls.next();
    expect(seqsOf(first)).toEqual([1]);
    await first.fail("overloaded");
    const retry = runDurableObjectAlarm(userStub(alice.user));

    const second = await calls.next();
    expect(await outboxOf(alice.user)).toEqual([{ rev: sent.rev, peer: bob.user, attempts: 1 }]);
    expect(await messagesOf(bob.user)).toEqual([]);
    await second.pass();
    await retry;

    expect((await bobPhone.nextOf("msg")).message).toMatchObject({ id: sent.id, text: "are you there?" });
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
    expect((await messagesOf(bob.user)).map((m) => m.id)).toEqual([sent.id]);
    expect(calls.count).toBe(2);
    await alicePhone.barrier();
    expect(alicePhone.buffered().filter((f) => f.type === "msg.failed")).toEqual([]);
  });

  it("stores the message once when the recipient stored it but its reply was lost", async () => {
    const { bob, alice, alicePhone, bobPhone } = await pair();
    const calls = await holdCalls(bob.user, "receive");
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "once" });
    await alicePhone.nextOf("msg.sent", "r");
    await (await calls.next()).passThenFail();
    expect((await bobPhone.nextOf("msg")).message.text).toBe("once");

    await (await calls.next()).pass();
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
    expect((await messagesOf(bob.user)).map((m) => m.text)).toEqual(["once"]);
    await bobPhone.barrier();
    expect(bobPhone.buffered().filter((f) => f.type === "msg")).toEqual([]);
  });

  it("queues messages sent during an outage behind the first and delivers all in order", async () => {
    const { bob, alice, alicePhone, bobPhone } = await pair();
    const calls = await holdCalls(bob.user, "receive");
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "m1" });
    const first = await calls.next();
    for (const i of [2, 3]) {
      alicePhone.send({ type: "msg.send", ref: `r${i}`, clientId: `c${i}`, to: bob.user, text: `m${i}` });
      expect(await alicePhone.nextOf("msg.sent", `r${i}`)).toMatchObject({ seq: i });
    }
    await first.fail();

    const retried = await calls.next();
    expect(seqsOf(retried)).toEqual([1, 2, 3]);
    await retried.pass();
    const received = [];
    for (let i = 0; i < 3; i++) received.push((await bobPhone.nextOf("msg")).message.text);
    expect(received).toEqual(["m1", "m2", "m3"]);
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
  });

  it("delivers a message whose first attempt was cut off by a restart of both objects", async () => {
    const { alice, bob, alicePhone } = await pair();
    const calls = await holdCalls(bob.user, "receive");
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "survives" });
    const sent = await alicePhone.nextOf("msg.sent", "r");
    await calls.next();

    // Unlike eviction, which waits for the held call, an abort cuts it off.
    await abortAllDurableObjects();

    // The queue is in SQLite and the alarm was armed before the first attempt:
    // run it now rather than wait for the runtime's retry of the cut-off alarm.
    expect(await runDurableObjectAlarm(userStub(alice.user))).toBe(true);
    await waitUntil(async () => (await messagesOf(bob.user)).some((m) => m.id === sent.id), "bob has the message");
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
    expect((await messagesOf(bob.user)).map((m) => m.id)).toEqual([sent.id]);
  });
});

describe("the recovery alarm a send sets", () => {
  const RECOVERY_MS = intVar(env.DELIVERY_RECOVERY_MS, DEFAULT_RECOVERY_MS);

  function alarmOf(user: string): Promise<number | null> {
    return runInDurableObject(userStub(user), (_i: UserObject, state) => state.storage.getAlarm());
  }

  it("falls in the second half of DELIVERY_RECOVERY_MS, and later sends in that window leave it", async () => {
    const { alice, bob, alicePhone } = await pair();
    alicePhone.send({ type: "msg.send", ref: "r1", clientId: "c1", to: bob.user, text: "one" });
    const first = await alicePhone.nextOf("msg.sent", "r1");
    const alarm = await alarmOf(alice.user);
    expect(alarm).not.toBeNull();
    expect(alarm! - first.sentAt).toBeGreaterThanOrEqual(RECOVERY_MS / 2);
    expect(alarm! - first.sentAt).toBeLessThanOrEqual(RECOVERY_MS);

    alicePhone.send({ type: "msg.send", ref: "r2", clientId: "c2", to: bob.user, text: "two" });
    await alicePhone.nextOf("msg.sent", "r2");
    expect(await alarmOf(alice.user)).toBe(alarm);
  });

  it("is spread over that half, so senders who start together do not wake together", async () => {
    const offsets = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const { alice, bob, alicePhone } = await pair();
        alicePhone.send({ type: "msg.send", ref: "r", clientId: `spread-${i}`, to: bob.user, text: "hello" });
        const sent = await alicePhone.nextOf("msg.sent", "r");
        return (await alarmOf(alice.user))! - sent.sentAt;
      }),
    );
    for (const offset of offsets) expect(offset).toBeGreaterThanOrEqual(RECOVERY_MS / 2);
    expect(new Set(offsets).size).toBeGreaterThan(1);
  });
});

describe("a restart after a hand-over that wrote nothing", () => {
  it("hands the message over again at most once, and the recipient keeps one copy", async () => {
    const { alice, bob, alicePhone, bobPhone } = await pair();
    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "only once" });
    const sent = await alicePhone.nextOf("msg.sent", "r");
    expect((await bobPhone.nextOf("msg")).message.id).toBe(sent.id);

    // The hand-over was remembered in memory only; the restart forgets it.
    await abortAllDurableObjects();
    const calls = await holdCalls(bob.user, "receive");
    const sweep = runDurableObjectAlarm(userStub(alice.user));
    const again = await calls.next();
    expect(seqsOf(again)).toEqual([1]);
    await again.pass();
    expect(await sweep).toBe(true);

    expect((await messagesOf(bob.user)).map((m) => m.id)).toEqual([sent.id]);
    // The sweep wrote down what it learnt: no alarm is left to repeat it.
    expect(await runInDurableObject(userStub(alice.user), (_i: UserObject, state) => state.storage.getAlarm())).toBeNull();
    expect(calls.count).toBe(1);
  });
});

describe("a recipient that stays down for every attempt", () => {
  /** Sends one message from alice to bob while bob's object refuses every call; returns once it failed. */
  async function failOneMessage() {
    const { alice, bob, alicePhone, bobPhone } = await pair();
    const aliceLaptop = await connectReady(alice, { device: "laptop" });
    const outage = await breakMethod(bob.user, "receive");
    expect(await callInObject(alice.user, () => userStub(bob.user).receive(alice.user, bob.user, []))).toMatchObject({ ok: false });

    alicePhone.send({ type: "msg.send", ref: "r", clientId: "c1", to: bob.user, text: "lost" });
    const sent = await alicePhone.nextOf("msg.sent", "r");
    const failed = await runAlarmsUntil(alice.user, Promise.all([alicePhone.nextOf("msg.failed"), aliceLaptop.nextOf("msg.failed")]));
    return { alice, bob, alicePhone, aliceLaptop, bobPhone, sent, failed, outage };
  }

  it("tells every device of the sender msg.failed with reason unreachable", async () => {
    const { bob, sent, failed } = await failOneMessage();
    for (const frame of failed) {
      expect(frame).toEqual({ type: "msg.failed", id: sent.id, clientId: "c1", chat: bob.user, seq: 1, reason: "unreachable", rev: expect.any(Number) });
      expect(frame.rev).toBeGreaterThan(sent.rev);
    }
  });

  it("gives up after DELIVERY_MAX_ATTEMPTS (3) attempts", async () => {
    const { outage } = await failOneMessage();
    // One call from the direct test in failOneMessage, then the three attempts.
    expect(outage.calls).toBe(1 + 3);
  });

  it("empties the queue, leaves no alarm and stores nothing at the recipient", async () => {
    const { alice, bob } = await failOneMessage();
    expect(await outboxOf(alice.user)).toEqual([]);
    expect(await runInDurableObject(userStub(alice.user), (_i: UserObject, state) => state.storage.getAlarm())).toBeNull();
    expect(await messagesOf(bob.user)).toEqual([]);
  });

  it("shows the message as failed to a device that syncs afterwards", async () => {
    const { alicePhone, aliceLaptop, sent, failed } = await failOneMessage();
    // A new device sees the message itself, marked failed.
    alicePhone.send({ type: "sync", ref: "new" });
    const fresh = await alicePhone.nextOf("sync.page", "new");
    expect(fresh.messages).toMatchObject([{ id: sent.id, status: "failed", failReason: "unreachable" }]);
    // A device that already had the message learns of the failure.
    aliceLaptop.send({ type: "sync", ref: "cursor", after: sent.rev });
    const later = await aliceLaptop.nextOf("sync.page", "cursor");
    expect(later.messages).toEqual([]);
    expect(later.failures).toEqual([{ id: sent.id, clientId: "c1", chat: failed[0].chat, seq: 1, reason: "unreachable", rev: failed[0].rev }]);
  });

  it("answers a resend of the failed message with the stored one rather than sending it again", async () => {
    const { bob, alicePhone, sent } = await failOneMessage();
    alicePhone.send({ type: "msg.send", ref: "again", clientId: "c1", to: bob.user, text: "lost" });
    expect(await alicePhone.nextOf("msg.sent", "again")).toMatchObject({ id: sent.id, duplicate: true });
  });

  it("still delivers the next message once the recipient is back", async () => {
    const { alice, bob, alicePhone, bobPhone, outage } = await failOneMessage();
    outage.repair();
    alicePhone.send({ type: "msg.send", clientId: "c2", to: bob.user, text: "back?" });
    expect((await bobPhone.nextOf("msg")).message).toMatchObject({ seq: 2, text: "back?" });
    await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
  });
});

describe("receipt retries", () => {
  it("retries a read receipt the sender's object could not take", async () => {
    const { alice, bob, alicePhone, bobPhone } = await pair();
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "read me" });
    await bobPhone.nextOf("msg");
    const calls = await holdCalls(alice.user, "applyReceipts");
    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    await (await calls.next()).fail();
    const retried = await calls.next();
    expect(retried.args).toEqual([bob.user, alice.user, 1, 1]);
    await retried.pass();
    expect(await alicePhone.nextOf("receipt")).toMatchObject({ chat: bob.user, delivered: 1, read: 1 });
  });

  // The receipt is queued in SQLite and an alarm armed before the first
  // attempt, so a restart while that attempt is in flight cannot strand it.
  it("retries a read receipt whose first attempt was cut off by a restart", async () => {
    const { alice, bob, alicePhone, bobPhone } = await pair();
    alicePhone.send({ type: "msg.send", clientId: "c1", to: bob.user, text: "read me" });
    await bobPhone.nextOf("msg");
    const calls = await holdCalls(alice.user, "applyReceipts");
    bobPhone.send({ type: "receipt.read", chat: alice.user, upto: 1 });
    await calls.next();

    await abortAllDurableObjects();

    await runDurableObjectAlarm(userStub(bob.user));
    await waitUntil(async () => (await inStore(alice.user, (store) => store.chat(bob.user)?.read)) === 1, "alice sees the read receipt", 1_000);
  });
});
