/**
 * The member cap. The workerd project runs with wrangler.toml's
 * GROUP_MEMBER_CAP (1024); registering a thousand users per test would be
 * slow, so the tests fill the group by writing member rows directly.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GroupObject } from "../../../src/objects/group";
import { createGroup, groupStub, newGroupId, ok, refused, registered } from "./support";

const CAP = 1024;

/**
 * Adds `count` current members straight into the group's table. They join
 * "in the future" (a huge joined_seq), so no log entry is visible to them and
 * the fan-out never calls their (non-existent) users' objects; they still
 * count towards the cap like anyone else.
 */
async function padMembers(group: DurableObjectStub<GroupObject>, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `pad_${i.toString().padStart(4, "0")}`);
  await runInDurableObject(group, (_instance: GroupObject, state) => {
    for (const user of names) {
      state.storage.sql.exec(
        "INSERT INTO members (user, role, joined_seq, joined_at, left_seq, delivered, read) VALUES (?, 'member', 1000000000, 0, NULL, 0, 0)",
        user,
      );
    }
  });
  return names;
}

describe("the member cap", () => {
  it("reports the cap in the group's info", async () => {
    const [ann] = await registered("ann");
    const { group } = await createGroup(ann, []);
    expect(ok(await group.info(ann)).cap).toBe(CAP);
  });

  it("refuses to create a group larger than the cap before looking anyone up", async () => {
    const [ann] = await registered("ann");
    const id = newGroupId();
    // Unregistered names: had they been looked up first, the answer would be unknown_user.
    const invited = Array.from({ length: CAP }, (_, i) => `nobody_${i}`);
    expect(refused(await groupStub(id).create(ann, id, "Too big", invited))).toBe("group_full");
    expect(refused(await groupStub(id).info(ann))).toBe("unknown_group");
  });

  it("refuses an add that would pass the cap as a whole, and accepts one that fills it exactly", async () => {
    const [ann, bob, cat, dan] = await registered("ann", "bob", "cat", "dan");
    const { group } = await createGroup(ann, [bob]);
    await padMembers(group, CAP - 3);

    expect(refused(await group.add(ann, [cat, dan]))).toBe("group_full");
    expect(ok(await group.info(ann)).members).toHaveLength(CAP - 1);
    // Someone already in takes no new place.
    expect(ok(await group.add(ann, [bob])).members).toHaveLength(CAP - 1);

    const full = ok(await group.add(ann, [cat]));
    expect(full.members).toHaveLength(CAP);
    expect(full.members.map((m) => m.user)).toContain(cat);
    expect(refused(await group.add(ann, [dan]))).toBe("group_full");
  });

  it("makes room again when a member leaves or is removed", async () => {
    const [ann, bob, cat, dan] = await registered("ann", "bob", "cat", "dan");
    const { group } = await createGroup(ann, [bob]);
    await padMembers(group, CAP - 2);
    expect(refused(await group.add(ann, [cat]))).toBe("group_full");

    ok(await group.leave(bob));
    ok(await group.add(ann, [cat]));
    expect(refused(await group.add(ann, [dan]))).toBe("group_full");

    ok(await group.remove(ann, "pad_0000"));
    expect(ok(await group.add(ann, [dan])).members).toHaveLength(CAP);
  });
});
