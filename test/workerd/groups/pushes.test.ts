/**
 * What members' devices are pushed: every log entry they may see, once, in
 * order, whatever membership changes happen around it.
 */
import { describe, expect, it } from "vitest";
import { connectReady, type Client } from "../helpers";
import { accounts, createGroup, ok, settled } from "./support";

/** Seqs of the group.msg frames a device got and nobody took yet, once the group is idle. */
async function pushedSeqs(client: Client, id: string): Promise<number[]> {
  await settled(id);
  await client.barrier();
  return client.buffered().flatMap((f) => (f.type === "group.msg" && f.message.group === id ? [f.message.seq] : []));
}

describe("pushes to members' devices", () => {
  it("shows each member every entry after they joined once, in log order", async () => {
    const [ann, bob, cat] = await accounts("ann", "bob", "cat");
    const [bobPhone, catPhone] = await Promise.all([connectReady(bob), connectReady(cat)]);
    const { id, group } = await createGroup(ann.user, [bob.user]);
    ok(await group.send(ann.user, "c1", "one"));
    ok(await group.send(bob.user, "c2", "two"));
    ok(await group.add(ann.user, [cat.user]));
    ok(await group.send(cat.user, "c3", "three"));

    // Bob's own message (4) is not pushed back to him; Cat joined after 4.
    expect(await pushedSeqs(bobPhone, id)).toEqual([1, 2, 3, 5, 6]);
    expect(await pushedSeqs(catPhone, id)).toEqual([5]);
  });

  it("does not push old entries again when the group is renamed or a member's role changes", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const bobPhone = await connectReady(bob);
    const { id, group } = await createGroup(ann.user, [bob.user]);
    ok(await group.send(ann.user, "c1", "one"));
    ok(await group.send(ann.user, "c2", "two"));
    expect(await pushedSeqs(bobPhone, id)).toEqual([1, 2, 3, 4]);

    ok(await group.rename(ann.user, "New name"));
    ok(await group.setRole(ann.user, bob.user, "promote"));
    // Everything pushed so far: the first four once, then the two new events.
    expect(await pushedSeqs(bobPhone, id)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
