/**
 * The per-user flood guard on sends: a token bucket over all of a user's
 * devices. A flood is refused with `rate_limited` and a retry-after, stores
 * nothing, and does not slow anyone else down.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { intVar } from "../../../src/config";
import type { ErrorFrame, MsgSentFrame, ServerFrame } from "../../../src/protocol";
import { type Client, connectReady, floodSends, inStore, register, waitUntil } from "../helpers";

const RATE = intVar(env.SEND_RATE_PER_SEC, 20);
const BURST = intVar(env.SEND_BURST, 60);
/** Sends past the burst: far more than refill during the flood. */
const OVERFLOW = 40;

type Answer = MsgSentFrame | ErrorFrame;

/** Sends `count` messages to `to` without waiting, then collects each one's answer. */
function flood(client: Client, to: string, count: number, tag: string): Promise<Answer[]> {
  return floodSends(client, count, tag, "msg.sent", (clientId, i) => ({ type: "msg.send", ref: clientId, clientId, to, text: `${tag} ${i}` }));
}

function refusals(answers: Answer[]): ErrorFrame[] {
  return answers.filter((f): f is ErrorFrame => f.type === "error");
}

function storedCount(user: string): Promise<number> {
  return inStore(user, (store) => store.syncAfter(0, 10_000).messages.filter((m) => m.from === user).length);
}

describe("the send rate limit", () => {
  it("lets a burst through, then refuses the flood with rate_limited and a retry-after of one token", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    const answers = await flood(a, bob.user, BURST + OVERFLOW, "f");

    const accepted = answers.filter((f) => f.type === "msg.sent").length;
    expect(accepted).toBeGreaterThanOrEqual(BURST);
    expect(accepted).toBeLessThan(BURST + OVERFLOW);
    // The first BURST are never refused; refusals carry the code and a wait no longer than one token:
    // the first one a real wait, the later ones (held behind it) whatever is left of it then.
    expect(answers.slice(0, BURST).every((f) => f.type === "msg.sent")).toBe(true);
    expect(refusals(answers)[0]!.retryAfterMs).toBeGreaterThan(0);
    for (const refusal of refusals(answers)) {
      expect(refusal).toMatchObject({ type: "error", code: "rate_limited" });
      expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(0);
      expect(refusal.retryAfterMs).toBeLessThanOrEqual(Math.ceil(1_000 / RATE));
    }
  });

  it("stores nothing for a refused send: only accepted messages are kept and delivered", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    const answers = await flood(a, bob.user, BURST + OVERFLOW, "f");
    const accepted = answers.filter((f): f is MsgSentFrame => f.type === "msg.sent");
    const refusedRefs = refusals(answers).map((f) => f.ref);
    expect(refusedRefs.length).toBeGreaterThan(0);

    expect(await storedCount(alice.user)).toBe(accepted.length);
    // Sequence numbers have no holes: a refused send took none.
    expect(accepted.map((f) => f.seq)).toEqual(accepted.map((_, i) => i + 1));
    await waitUntil(async () => (await inStore(bob.user, (store) => store.chat(alice.user)?.lastIn)) === accepted.length, "bob has every accepted message");
    const atBob = await inStore(bob.user, (store) => store.history(alice.user, undefined, 1_000).messages.map((m) => m.clientId));
    expect(atBob).toEqual(accepted.map((f) => f.clientId));
    expect(atBob.some((id) => refusedRefs.includes(id))).toBe(false);
  });

  it("refuses every newer send on the socket until the refused one comes again, naming it in resendFirst", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    const answers = await flood(a, bob.user, BURST + OVERFLOW, "f");
    const firstRefused = answers.findIndex((f) => f.type === "error");
    // Tokens refill while the flood goes on, yet nothing after the first refusal gets through.
    expect(answers.slice(firstRefused).every((f) => f.type === "error" && f.code === "rate_limited")).toBe(true);
    const held = (answers[firstRefused] as ErrorFrame).ref!;
    for (const refusal of refusals(answers)) expect(refusal.resendFirst).toBe(held);
    a.send({ type: "msg.send", ref: "newer", clientId: "newer", to: bob.user, text: "typed after" });
    expect(await a.nextOf("error", "newer")).toMatchObject({ code: "rate_limited", resendFirst: held });
  });

  it("accepts the refused send once retryAfterMs has passed, then newer ones, in the order they were typed", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    const answers = await flood(a, bob.user, BURST + OVERFLOW, "f");
    const refused = refusals(answers);
    // workerd's clock only advances on I/O, so allow a margin over the advised wait.
    await scheduler.wait(refused[0]!.retryAfterMs! + 250);
    const held = refused[0]!.resendFirst!;
    a.send({ type: "msg.send", ref: "again", clientId: held, to: bob.user, text: "resent" });
    const resent = await a.nextOf("msg.sent", "again");
    // The wait above refilled several tokens (RATE per second), so the next send finds one.
    a.send({ type: "msg.send", ref: "later", clientId: "later", to: bob.user, text: "after the wait" });
    const later = await a.nextOf("msg.sent", "later");
    expect(later.seq).toBeGreaterThan(resent.seq);
  });

  it("keeps the gate of one socket to that socket: another device of the user sends once a token is there", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const [phone, laptop] = await Promise.all([connectReady(alice, { device: "phone" }), connectReady(alice, { device: "laptop" })]);
    const refusal = refusals(await flood(phone, bob.user, BURST + OVERFLOW, "p"))[0]!;
    await scheduler.wait(refusal.retryAfterMs! + 250);
    laptop.send({ type: "msg.send", ref: "l", clientId: "laptop-1", to: bob.user, text: "from the laptop" });
    expect(await laptop.nextOf("msg.sent", "l")).toMatchObject({ clientId: "laptop-1" });
  });

  it("counts all of a user's devices together", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const [phone, laptop] = await Promise.all([connectReady(alice, { device: "phone" }), connectReady(alice, { device: "laptop" })]);
    await flood(phone, bob.user, BURST, "p");
    const fromLaptop = await flood(laptop, bob.user, OVERFLOW, "l");
    expect(refusals(fromLaptop).length).toBeGreaterThan(0);
  });

  it("answers a resend of a stored message even while the sender is limited", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    const answers = await flood(a, bob.user, BURST + OVERFLOW, "f");
    const first = answers[0] as MsgSentFrame;
    a.send({ type: "msg.send", ref: "again", clientId: first.clientId, to: bob.user, text: "f 0" });
    expect(await a.nextOf("msg.sent", "again")).toMatchObject({ id: first.id, duplicate: true });
  });

  it("limits only the flooding user: another user sending at the same time is unaffected", async () => {
    const [alice, carol, bob] = await Promise.all([register("alice"), register("carol"), register("bob")]);
    const [a, c] = await Promise.all([connectReady(alice), connectReady(carol)]);
    const [flooder, steady] = await Promise.all([flood(a, bob.user, BURST + OVERFLOW, "f"), flood(c, bob.user, 30, "s")]);
    expect(refusals(flooder).length).toBeGreaterThan(0);
    expect(refusals(steady)).toEqual([]);
    expect(await storedCount(carol.user)).toBe(30);
  });

  it("limits group sends too", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const a = await connectReady(alice);
    a.send({ type: "group.create", ref: "g", name: "Flood", members: [bob.user] });
    const group = (await a.nextOf("group.created", "g")).info.group;
    for (let i = 0; i < BURST + OVERFLOW; i++) a.send({ type: "group.send", ref: `g${i}`, clientId: `g${i}`, group, text: `g ${i}` });
    const answers: ServerFrame[] = [];
    for (let i = 0; i < BURST + OVERFLOW; i++) answers.push(await a.next((f) => "ref" in f && f.ref === `g${i}`));
    expect(answers.filter((f) => f.type === "error" && f.code === "rate_limited").length).toBeGreaterThan(0);
    expect(answers.filter((f) => f.type === "group.sent").length).toBeGreaterThanOrEqual(BURST);
  });
});
