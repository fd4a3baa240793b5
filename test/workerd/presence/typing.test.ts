/**
 * Typing indicators: pushed to the peer (or the group's other members) with
 * a time to live, never stored, renewals passed on sparingly.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UserObject } from "../../../src/objects/user";
import { TYPING_TTL_MS } from "../../../src/objects/user-signals";
import type { ServerFrame, TypingFrame } from "../../../src/protocol";
import { type Client, connectReady, inStore, register, userStub, waitUntil } from "../helpers";
import { chatting, shardRow, strangers, waitForRow } from "./support";

function isTyping(f: ServerFrame): f is TypingFrame {
  return f.type === "typing";
}

function typingFrames(client: Client): TypingFrame[] {
  return client.buffered().filter(isTyping);
}

/** Every row of every table in the user's object. */
function dump(user: string): Promise<Record<string, unknown[]>> {
  return runInDurableObject(userStub(user), (_instance: UserObject, state) => {
    const sql = state.storage.sql;
    const tables = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name").toArray();
    return Object.fromEntries(tables.map(({ name }) => [name, sql.exec(`SELECT * FROM "${name}"`).toArray()]));
  });
}

describe("one-to-one typing", () => {
  it("is pushed to the peer with a time to live, and so is stopping", async () => {
    const { alice, bob, a, b } = await chatting();
    a.send({ type: "typing", chat: bob.user, typing: true });
    expect(await b.next(isTyping)).toEqual({ type: "typing", from: alice.user, chat: alice.user, typing: true, ttlMs: TYPING_TTL_MS });
    a.send({ type: "typing", chat: bob.user, typing: false });
    expect(await b.next(isTyping)).toEqual({ type: "typing", from: alice.user, chat: alice.user, typing: false, ttlMs: TYPING_TTL_MS });
  });

  it("expires by itself within a few seconds unless renewed", async () => {
    const { bob, a, b } = await chatting();
    a.send({ type: "typing", chat: bob.user, typing: true });
    const { ttlMs } = await b.next(isTyping);
    expect(ttlMs).toBeGreaterThanOrEqual(2_000);
    expect(ttlMs).toBeLessThanOrEqual(10_000);
  });

  it("reaches every device of the peer but not the typist's own", async () => {
    const { alice, bob, a, b } = await chatting();
    const [bobTablet, aliceTablet] = await Promise.all([connectReady(bob, { device: "tablet" }), connectReady(alice, { device: "tablet" })]);
    a.send({ type: "typing", chat: bob.user, typing: true });
    await Promise.all([b.next(isTyping), bobTablet.next(isTyping)]);
    await Promise.all([a.barrier(), aliceTablet.barrier()]);
    expect([...typingFrames(a), ...typingFrames(aliceTablet)]).toEqual([]);
  });

  it("passes a quick renewal on once, but always passes on stopping", async () => {
    const { bob, a, b } = await chatting();
    a.send({ type: "typing", chat: bob.user, typing: true });
    a.send({ type: "typing", chat: bob.user, typing: true });
    a.send({ type: "typing", chat: bob.user, typing: true });
    a.send({ type: "typing", chat: bob.user, typing: false });
    expect((await b.next(isTyping)).typing).toBe(true);
    expect((await b.next(isTyping)).typing).toBe(false);
    await a.barrier();
    await b.barrier();
    expect(typingFrames(b)).toEqual([]);
  });

  it("is never stored, by either user's object or the presence shard", async () => {
    const { alice, bob, a, b } = await chatting();
    // Alice's send was her activity; wait until it is written, so typing within the interval writes nothing.
    const row = await waitForRow(alice.user, (r) => r.online === 1, "alice's activity is stored");
    const before = await Promise.all([dump(alice.user), dump(bob.user)]);

    a.send({ type: "typing", chat: bob.user, typing: true });
    await b.next(isTyping);
    a.send({ type: "typing", chat: bob.user, typing: false });
    await b.next(isTyping);
    await Promise.all([a.barrier(), b.barrier()]);

    expect(await Promise.all([dump(alice.user), dump(bob.user)])).toEqual(before);
    expect(await shardRow(alice.user)).toEqual(row);
  });

  it("to someone without a chat is refused with unknown_chat and reaches no one", async () => {
    const { bob, a, b } = await strangers();
    a.send({ type: "typing", ref: "t", chat: bob.user, typing: true });
    expect(await a.nextOf("error", "t")).toMatchObject({ code: "unknown_chat" });
    await b.barrier();
    expect(typingFrames(b)).toEqual([]);
  });

  it("must name exactly one of chat or group", async () => {
    const { bob, a } = await chatting();
    a.send({ type: "typing", ref: "none", typing: true });
    expect(await a.nextOf("error", "none")).toMatchObject({ code: "bad_frame" });
    a.send({ type: "typing", ref: "both", chat: bob.user, group: "g_0123456789abcdef", typing: true });
    expect(await a.nextOf("error", "both")).toMatchObject({ code: "bad_frame" });
  });
});

describe("group typing", () => {
  async function groupOfThree() {
    const [alice, bob, carol] = await Promise.all([register("alice"), register("bob"), register("carol")]);
    const [a, b, c] = await Promise.all([connectReady(alice), connectReady(bob), connectReady(carol)]);
    a.send({ type: "group.create", ref: "g", name: "Typists", members: [bob.user, carol.user] });
    const { info } = await a.nextOf("group.created", "g");
    await Promise.all([b.nextOf("group.changed"), c.nextOf("group.changed")]);
    return { alice, bob, carol, a, b, c, group: info.group };
  }

  it("reaches the group's other members, naming the group and the typist", async () => {
    const { alice, a, b, c, group } = await groupOfThree();
    a.send({ type: "typing", group, typing: true });
    const expected = { type: "typing", from: alice.user, group, typing: true, ttlMs: TYPING_TTL_MS };
    expect(await b.next(isTyping)).toEqual(expected);
    expect(await c.next(isTyping)).toEqual(expected);
    await a.barrier();
    expect(typingFrames(a)).toEqual([]);
  });

  it("is refused with not_a_member in a group the typist is not in", async () => {
    const { group } = await groupOfThree();
    const outsider = await connectReady(await register("dave"));
    outsider.send({ type: "typing", ref: "t", group, typing: true });
    expect(await outsider.nextOf("error", "t")).toMatchObject({ code: "not_a_member" });
  });

  it("stops reaching a member once they have left", async () => {
    const { carol, a, b, c, group } = await groupOfThree();
    c.send({ type: "group.leave", ref: "l", group });
    await c.nextOf("group.info", "l");
    await waitUntil(async () => (await inStore(carol.user, (store) => store.group(group)?.active)) === false, "carol's object knows she left");
    a.send({ type: "typing", group, typing: true });
    await b.next(isTyping);
    await c.barrier();
    expect(typingFrames(c)).toEqual([]);
  });
});
