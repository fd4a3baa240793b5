/**
 * Who may do what: objects refuse calls and sockets for someone else, and a
 * device cannot send to itself, to nobody, or acknowledge a chat it lacks.
 */
import { describe, expect, it } from "vitest";
import type { WireMessage } from "../../src/objects/user-store";
import { DEVICE_HEADER, USER_HEADER } from "../../src/internal";
import { callInObject, connect, connectReady, freshName, inStore, register, userStub } from "./helpers";

function wire(from: string, to: string, seq = 1): WireMessage {
  return { id: crypto.randomUUID(), from, to, seq, clientId: `c${seq}`, text: "hi", sentAt: 1 };
}

describe("calls between objects", () => {
  it("refuses receive() of messages addressed to another user and stores nothing", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await connectReady(bob); // bob's object now knows it is bob's
    const mallory = freshName("mallory");
    const outcome = await callInObject(bob.user, (bobObject) => bobObject.receive(alice.user, mallory, [wire(alice.user, mallory)]));
    expect(outcome).toEqual({ ok: false, error: expect.stringMatching(/not_authorized/) });
    expect(await inStore(bob.user, (store) => store.rev)).toBe(0);
  });

  it("refuses receive() whose messages claim another sender or recipient than the call", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await connectReady(bob);
    const forged = [wire(alice.user, bob.user, 1), wire(freshName("carol"), bob.user, 2)];
    expect(await callInObject(bob.user, (bobObject) => bobObject.receive(alice.user, bob.user, forged))).toMatchObject({ ok: false, error: expect.stringMatching(/not_authorized/) });
    const misaddressed = [wire(alice.user, freshName("carol"))];
    expect(await callInObject(bob.user, (bobObject) => bobObject.receive(alice.user, bob.user, misaddressed))).toMatchObject({ ok: false, error: expect.stringMatching(/not_authorized/) });
    expect(await inStore(bob.user, (store) => store.rev)).toBe(0);
  });

  it("refuses applyReceipts() addressed to another user", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await connectReady(alice);
    const outcome = await callInObject(alice.user, (aliceObject) => aliceObject.applyReceipts(bob.user, freshName("mallory"), 1, 1));
    expect(outcome).toEqual({ ok: false, error: expect.stringMatching(/not_authorized/) });
  });
});

describe("sockets", () => {
  it("refuses a socket forwarded to an object that belongs to someone else", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await connectReady(bob);
    const res = await userStub(bob.user).fetch("http://localhost/api/ws", {
      headers: { Upgrade: "websocket", [USER_HEADER]: alice.user, [DEVICE_HEADER]: "stolen" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "not_authorized" } });
  });

  it("refuses a request to an object that is not a forwarded upgrade", async () => {
    const bob = await register("bob");
    const res = await userStub(bob.user).fetch("http://localhost/api/ws", { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(400);
  });

  it("takes identity from the token, never from identity headers the client sent", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    const device = await connect(alice, { headers: { [USER_HEADER]: bob.user, [DEVICE_HEADER]: "spoofed" } });
    const hello = await device.nextOf("hello");
    expect(hello.user).toBe(alice.user);
    expect(hello.device).not.toBe("spoofed");
  });
});

describe("frames a device may not send", () => {
  it("refuses a message to myself and stores nothing", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.send({ type: "msg.send", ref: "me", clientId: "c1", to: alice.user, text: "note to self" });
    expect(await device.nextOf("error")).toMatchObject({ code: "invalid_recipient", ref: "me" });
    expect(await inStore(alice.user, (store) => ({ rev: store.rev, chat: store.chat(alice.user) }))).toEqual({ rev: 0, chat: undefined });
  });

  it("refuses a message to a username nobody registered and stores nothing", async () => {
    const alice = await register("alice");
    const ghost = freshName("ghost");
    const device = await connectReady(alice);
    device.send({ type: "msg.send", ref: "g", clientId: "c1", to: ghost, text: "anyone there?" });
    expect(await device.nextOf("error")).toMatchObject({ code: "unknown_user", ref: "g" });
    expect(await inStore(alice.user, (store) => ({ rev: store.rev, chat: store.chat(ghost), queued: store.hasPending(ghost) }))).toEqual({
      rev: 0,
      chat: undefined,
      queued: false,
    });
    // The client id was not used up: the same id works for a real recipient.
    const bob = await register("bob");
    device.send({ type: "msg.send", ref: "b", clientId: "c1", to: bob.user, text: "hi bob" });
    expect(await device.nextOf("msg.sent", "b")).toMatchObject({ chat: bob.user, duplicate: false });
  });

  it("refuses a receipt for a chat that does not exist", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    for (const type of ["receipt.delivered", "receipt.read"] as const) {
      device.send({ type, ref: type, chat: freshName("nobody"), upto: 1 });
      expect(await device.nextOf("error")).toMatchObject({ code: "unknown_chat", ref: type });
    }
  });

  it("refuses history for a chat that does not exist", async () => {
    const alice = await register("alice");
    const device = await connectReady(alice);
    device.send({ type: "history", ref: "h", chat: freshName("nobody") });
    expect(await device.nextOf("error")).toMatchObject({ code: "unknown_chat", ref: "h" });
  });

  it("ignores a receipt beyond what I received rather than inventing messages", async () => {
    const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
    await userStub(bob.user).receive(alice.user, bob.user, [wire(alice.user, bob.user, 1)]);
    const device = await connectReady(bob);
    device.send({ type: "receipt.read", chat: alice.user, upto: 99 });
    await device.barrier();
    expect(await inStore(bob.user, (store) => store.chat(alice.user))).toMatchObject({ readByMe: 1, lastIn: 1 });
  });
});
