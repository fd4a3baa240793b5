/**
 * group.create is idempotent on its clientId: the group id is derived from
 * the creator and the clientId, so a create resent after a lost answer
 * reaches the group the first one made and gets it back, marked duplicate,
 * while another user's create with the same clientId makes a group of its own.
 */
import { describe, expect, it } from "vitest";
import { groupIdFor } from "../../../src/objects/user-groups";
import { GROUP_ID_PATTERN } from "../../../src/protocol";
import { connectReady } from "../helpers";
import { accounts, groupRows, groupStub, ok, refused, registered, settled, userRows } from "./support";

describe("the id of a group being created", () => {
  it("is the same for the same creator and clientId, and a group id", async () => {
    const id = await groupIdFor("ann_1", "k1");
    expect(id).toMatch(GROUP_ID_PATTERN);
    expect(id).toMatch(/^g_[0-9a-f]{32}$/);
    expect(await groupIdFor("ann_1", "k1")).toBe(id);
  });

  it("differs for another creator or another clientId, and is random without a clientId", async () => {
    const ids = new Set([
      await groupIdFor("ann_1", "k1"),
      await groupIdFor("bob_1", "k1"),
      await groupIdFor("ann_1", "k2"),
      // The separator cannot be forged: usernames have no ":".
      await groupIdFor("ann", "1:k1"),
      await groupIdFor("ann_1"),
      await groupIdFor("ann_1"),
    ]);
    expect(ids.size).toBe(6);
  });
});

describe("a group.create resent with the same clientId", () => {
  it("answers the group the first one made, duplicate: true, and makes no second group", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const annPhone = await connectReady(ann);
    annPhone.send({ type: "group.create", ref: "g1", name: "Trip", members: [bob.user], clientId: "k1" });
    const first = await annPhone.nextOf("group.created", "g1");
    expect(first.duplicate).toBe(false);
    await settled(first.info.group);

    // The answer was lost: the device sends the same frame again.
    annPhone.send({ type: "group.create", ref: "g2", name: "Trip", members: [bob.user], clientId: "k1" });
    const again = await annPhone.nextOf("group.created", "g2");
    expect(again).toEqual({ ...first, ref: "g2", duplicate: true });

    const id = first.info.group;
    expect(await userRows(ann.user, "SELECT id FROM groups")).toEqual([{ id }]);
    expect(await userRows(bob.user, "SELECT id FROM groups")).toEqual([{ id }]);
    expect(await groupRows(id, "SELECT seq FROM messages ORDER BY seq")).toEqual([{ seq: 1 }, { seq: 2 }]);
  });

  it("while the first is still being made, gets the same group, which is made once", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const id = await groupIdFor(ann, "k1");
    const group = groupStub(id);
    // Both wait on the account lookups of the invited members before making anything.
    const [one, two] = await Promise.all([group.create(ann, id, "Trip", [bob, cat]), group.create(ann, id, "Trip", [bob, cat])]);
    expect([ok(one).duplicate, ok(two).duplicate].sort()).toEqual([false, true]);
    expect(ok(two).info).toEqual(ok(one).info);
    expect(await groupRows(id, "SELECT user FROM members ORDER BY user")).toEqual([{ user: ann }, { user: bob }, { user: cat }]);
    expect((await groupRows(id, "SELECT event FROM messages ORDER BY seq")).map((r) => JSON.parse(String(r.event)).kind)).toEqual(["created", "added"]);
  });

  it("is refused once its creator is no longer a member", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const id = await groupIdFor(ann, "k1");
    ok(await groupStub(id).create(ann, id, "Trip", [bob]));
    ok(await groupStub(id).leave(ann));
    expect(refused(await groupStub(id).create(ann, id, "Trip", [bob]))).toBe("not_a_member");
  });
});

describe("another user's group.create with the same clientId", () => {
  it("makes a group of its own", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const [annPhone, bobPhone] = await Promise.all([connectReady(ann), connectReady(bob)]);
    annPhone.send({ type: "group.create", ref: "a", name: "Ann's", members: [bob.user], clientId: "k1" });
    const annGroup = await annPhone.nextOf("group.created", "a");
    bobPhone.send({ type: "group.create", ref: "b", name: "Bob's", members: [ann.user], clientId: "k1" });
    const bobGroup = await bobPhone.nextOf("group.created", "b");

    expect(bobGroup.duplicate).toBe(false);
    expect(bobGroup.info.group).not.toBe(annGroup.info.group);
    expect(bobGroup.info).toMatchObject({ name: "Bob's", createdBy: bob.user, head: 2 });
    expect(ok(await groupStub(annGroup.info.group).info(ann.user))).toMatchObject({ name: "Ann's", createdBy: ann.user, head: 2 });
  });

  it("cannot reach someone else's group by calling it with its id", async () => {
    const [ann, eve] = await registered("ann", "eve");
    const id = await groupIdFor(ann, "k1");
    ok(await groupStub(id).create(ann, id, "Ann's", []));
    expect(await groupStub(id).create(eve, id, "Mine now", [])).toMatchObject({ ok: false, code: "not_authorized" });
    expect(ok(await groupStub(id).info(ann)).name).toBe("Ann's");
  });
});
