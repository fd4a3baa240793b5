/**
 * Sending into a group: a resend is answered, not stored again, and
 * concurrent senders get one gap-free order that every member sees.
 */
import { describe, expect, it } from "vitest";
import type { GroupSentFrame } from "../../../src/protocol";
import { connectReady } from "../helpers";
import { accounts, createGroup, groupRows, ok, registered, settled } from "./support";

function storedCount(id: string, sender: string, clientId: string): Promise<number> {
  return groupRows<{ n: number }>(id, "SELECT COUNT(*) AS n FROM messages WHERE sender = ? AND client_id = ?", sender, clientId).then((r) => r[0]!.n);
}

describe("idempotent sends", () => {
  it("answers a resend with the same client id with the first message, marked duplicate, and stores it once", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { id, group } = await createGroup(ann, [bob]);
    const first = ok(await group.send(ann, "c1", "hello"));
    const again = ok(await group.send(ann, "c1", "hello, edited"));
    expect(first).toMatchObject({ duplicate: false, message: { seq: 3, text: "hello", from: ann } });
    expect(again).toEqual({ duplicate: true, message: first.message });
    expect(await storedCount(id, ann, "c1")).toBe(1);
    expect(ok(await group.info(ann)).head).toBe(3);
  });

  it("keeps the same client id from two senders as two messages", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    const fromAnn = ok(await group.send(ann, "same", "from ann"));
    const fromBob = ok(await group.send(bob, "same", "from bob"));
    expect([fromAnn.duplicate, fromBob.duplicate]).toEqual([false, false]);
    expect(fromBob.message.seq).toBe(fromAnn.message.seq + 1);
  });

  it("stores one message when the same resend arrives twenty times at once", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { id, group } = await createGroup(ann, [bob]);
    const results = (await Promise.all(Array.from({ length: 20 }, () => group.send(ann, "burst", "once only")))).map(ok);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await storedCount(id, ann, "burst")).toBe(1);
  });

  it("over the wire, answers a resend with group.sent duplicate and shows the message to other devices once", async () => {
    const [ann] = await accounts("ann");
    const [bob] = await accounts("bob");
    const { id, group } = await createGroup(ann.user, [bob.user]);
    const phone = await connectReady(ann, { device: "phone" });
    const laptop = await connectReady(ann, { device: "laptop" });
    const bobPhone = await connectReady(bob);

    phone.send({ type: "group.send", ref: "s1", group: id, clientId: "c1", text: "hi all" });
    const sent = await phone.nextOf("group.sent", "s1");
    phone.send({ type: "group.send", ref: "s2", group: id, clientId: "c1", text: "hi all" });
    const resent = await phone.nextOf("group.sent", "s2");
    expect(sent).toMatchObject({ group: id, clientId: "c1", seq: 3, duplicate: false });
    expect(resent).toEqual({ ...sent, ref: "s2", duplicate: true } satisfies GroupSentFrame);

    expect((await laptop.nextOf("group.msg")).message).toMatchObject({ id: sent.id, seq: 3 });
    expect((await bobPhone.next((f) => f.type === "group.msg" && f.message.seq === 3)).type).toBe("group.msg");
    await settled(id);
    await Promise.all([laptop.barrier(), bobPhone.barrier(), phone.barrier()]);
    const seq3 = (frames: readonly { type: string }[]) => frames.filter((f) => f.type === "group.msg" && "message" in f && (f.message as { seq: number }).seq === 3);
    expect(seq3(laptop.buffered())).toEqual([]);
    expect(seq3(bobPhone.buffered())).toEqual([]);
    // The group does not echo my own message to my object.
    expect(seq3(phone.buffered())).toEqual([]);
    expect(ok(await group.info(ann.user)).head).toBe(3);
  });
});

describe("concurrent senders", () => {
  it("gives 50 members sending at once seqs that follow the log's head with no gap or repeat, in one order for everyone", async () => {
    const names = await registered("own", ...Array.from({ length: 50 }, (_, i) => `s${i}`));
    const [owner, ...senders] = names as [string, ...string[]];
    const { id, group } = await createGroup(owner, senders);
    const head = ok(await group.info(owner)).head;

    const results = (await Promise.all(senders.map((user, i) => group.send(user, `c${i}`, `message ${i} from ${user}`)))).map(ok);
    const seqs = results.map((r) => r.message.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => head + 1 + i));

    const bySeq = new Map(results.map((r) => [r.message.seq, r.message]));
    const logs = await Promise.all([owner, senders[0]!, senders[49]!].map(async (user) => ok(await group.sync(user, head, 200))));
    for (const page of logs) {
      expect(page.more).toBe(false);
      expect(page.messages.map((m) => m.seq)).toEqual(seqs);
      for (const m of page.messages) expect(m).toEqual(bySeq.get(m.seq));
    }
    await settled(id);
  });
});
