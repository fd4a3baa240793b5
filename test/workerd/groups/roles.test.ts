/**
 * Roles and authorisation through the group object's RPC: members send and
 * read, admins change membership, outsiders and former members get nothing,
 * and a group always keeps an admin.
 */
import { describe, expect, it } from "vitest";
import type { GroupMessage } from "../../../src/protocol";
import { connectReady, waitUntil } from "../helpers";
import { accounts, createGroup, groupStub, newGroupId, ok, refused, registered, settled, userRows } from "./support";

/** The log as short labels: an event's kind, or a message's text. */
function labels(messages: GroupMessage[]): string[] {
  return messages.map((m) => m.event?.kind ?? m.text);
}

function rolesOf(info: { members: { user: string; role: string }[] }): Record<string, string> {
  return Object.fromEntries(info.members.map((m) => [m.user, m.role]));
}

describe("group roles", () => {
  it("makes the creator the only admin and records the creation and the invitations in the log", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob, cat, ann, bob], "Team");
    const info = ok(await group.info(bob));
    expect(info).toMatchObject({ name: "Team", createdBy: ann, head: 2, cap: 1024 });
    expect(rolesOf(info)).toEqual({ [ann]: "admin", [bob]: "member", [cat]: "member" });
    const page = ok(await group.sync(cat, 0, 50));
    expect(page.messages.map((m) => m.event)).toEqual([
      { kind: "created", by: ann, name: "Team" },
      { kind: "added", by: ann, users: [bob, cat] },
    ]);
  });

  it("refuses every action to a registered user outside the group with not_a_member", async () => {
    const [ann, bob, eve] = await registered("ann", "bob", "eve");
    const { group } = await createGroup(ann, [bob]);
    const attempts = [
      group.info(eve),
      group.send(eve, "c1", "let me in"),
      group.sync(eve, 0, 50),
      group.history(eve, undefined, 50),
      group.acknowledge(eve, "read", 2),
      group.messageInfo(eve, 1),
      group.add(eve, [eve]),
      group.remove(eve, bob),
      group.setRole(eve, eve, "promote"),
      group.setRole(eve, ann, "demote"),
      group.rename(eve, "Mine now"),
      group.leave(eve),
    ];
    for (const result of await Promise.all(attempts)) expect(refused(result)).toBe("not_a_member");
    expect(ok(await group.info(ann)).head).toBe(2);
  });

  it("lets plain members send, read and see the info, and refuses them membership changes with not_admin", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob, cat]);
    expect(ok(await group.send(bob, "c1", "hello")).message.seq).toBe(3);
    expect(labels(ok(await group.sync(cat, 2, 50)).messages)).toEqual(["hello"]);
    expect(labels(ok(await group.history(bob, undefined, 50)).messages)).toEqual(["created", "added", "hello"]);
    expect(ok(await group.info(bob)).head).toBe(3);

    const attempts = [
      group.add(bob, [cat]),
      group.remove(bob, cat),
      group.setRole(bob, bob, "promote"),
      group.setRole(bob, ann, "demote"),
      group.rename(bob, "Bob's group"),
    ];
    for (const result of await Promise.all(attempts)) expect(refused(result)).toBe("not_admin");
    const info = ok(await group.info(ann));
    expect(info).toMatchObject({ name: "Test group", head: 3 });
    expect(rolesOf(info)).toEqual({ [ann]: "admin", [bob]: "member", [cat]: "member" });
  });

  it("lets an admin add, promote, demote, rename and remove, each recorded in the log", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob]);
    ok(await group.add(ann, [cat]));
    ok(await group.setRole(ann, bob, "promote"));
    ok(await group.setRole(bob, cat, "promote"));
    ok(await group.setRole(cat, bob, "demote"));
    ok(await group.rename(cat, "Renamed"));
    const info = ok(await group.remove(cat, ann));
    expect(info.name).toBe("Renamed");
    expect(rolesOf(info)).toEqual({ [bob]: "member", [cat]: "admin" });
    expect(ok(await group.sync(bob, 2, 50)).messages.map((m) => m.event)).toEqual([
      { kind: "added", by: ann, users: [cat] },
      { kind: "promoted", by: ann, user: bob },
      { kind: "promoted", by: bob, user: cat },
      { kind: "demoted", by: cat, user: bob },
      { kind: "renamed", by: cat, name: "Renamed" },
      { kind: "removed", by: cat, user: ann },
    ]);
  });

  it("logs a rename once when it is sent again (a resend after a lost answer), and answers it the same", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    const first = ok(await group.rename(ann, "Picnic"));
    const again = ok(await group.rename(ann, "Picnic"));
    expect(again).toEqual(first);
    expect(ok(await group.sync(bob, 0, 50)).messages.filter((m) => m.event?.kind === "renamed")).toHaveLength(1);
  });

  it("refuses unknown users on create and on add, naming them, and changes nothing", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const id = newGroupId();
    const failed = await groupStub(id).create(ann, id, "Nope", [bob, "nobody_here_1"]);
    expect(failed).toMatchObject({ ok: false, code: "unknown_user", message: expect.stringContaining("nobody_here_1") });
    expect(refused(await groupStub(id).info(ann))).toBe("unknown_group");

    const { group } = await createGroup(ann, [bob]);
    expect(refused(await group.add(ann, ["nobody_here_2"]))).toBe("unknown_user");
    expect(ok(await group.info(ann)).members).toHaveLength(2);
  });

  it("answers not_in_group when an admin removes, promotes or demotes someone who is not a member", async () => {
    const [ann, bob, eve] = await registered("ann", "bob", "eve");
    const { group } = await createGroup(ann, [bob]);
    expect(refused(await group.remove(ann, eve))).toBe("not_in_group");
    expect(refused(await group.setRole(ann, eve, "promote"))).toBe("not_in_group");
    ok(await group.remove(ann, bob));
    expect(refused(await group.setRole(ann, bob, "promote"))).toBe("not_in_group");
    expect(refused(await group.remove(ann, bob))).toBe("not_in_group");
  });
});

describe("membership over time", () => {
  it("stops a removed member from sending, and their sync and history end at their removal", async () => {
    const [ann, cat] = await registered("ann", "cat");
    const [bob] = await accounts("bob");
    const bobPhone = await connectReady(bob);
    const { id, group } = await createGroup(ann, [bob.user, cat]);
    ok(await group.send(ann, "c1", "before"));
    ok(await group.remove(ann, bob.user));
    ok(await group.send(ann, "c2", "after"));
    ok(await group.send(cat, "c3", "after, too"));
    await settled(id);

    expect(refused(await group.send(bob.user, "c4", "still here?"))).toBe("not_a_member");
    expect(refused(await group.info(bob.user))).toBe("not_a_member");
    const synced = ok(await group.sync(bob.user, 0, 50));
    expect(labels(synced.messages)).toEqual(["created", "added", "before", "removed"]);
    expect(synced).toMatchObject({ head: 4, more: false });
    expect(labels(ok(await group.sync(bob.user, 4, 50)).messages)).toEqual([]);
    expect(labels(ok(await group.history(bob.user, undefined, 50)).messages)).toEqual(["created", "added", "before", "removed"]);
    expect(labels(ok(await group.sync(cat, 3, 50)).messages)).toEqual(["removed", "after", "after, too"]);

    // Bob's object learns that the membership ended; his devices saw the
    // removal and nothing after it.
    await waitUntil(async () => (await userRows<{ active: number }>(bob.user, "SELECT active FROM groups WHERE id = ?", id))[0]?.active === 0, "bob's object knows he was removed");
    const changed = await bobPhone.next((f) => f.type === "group.changed" && !f.membership.active);
    expect(changed).toMatchObject({ membership: { group: id, active: false } });
    await bobPhone.barrier();
    const seen = bobPhone.buffered().flatMap((f) => (f.type === "group.msg" ? [f.message.seq] : []));
    expect(Math.max(...seen)).toBe(4);
  });

  it("shows a member added later nothing from before they joined", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob]);
    ok(await group.send(ann, "c1", "old one"));
    ok(await group.send(bob, "c2", "old two"));
    ok(await group.add(ann, [cat]));
    ok(await group.send(bob, "c3", "new"));

    const joined = ["added", "new"];
    expect(labels(ok(await group.sync(cat, undefined, 50)).messages)).toEqual(joined);
    expect(labels(ok(await group.sync(cat, 0, 50)).messages)).toEqual(joined);
    expect(labels(ok(await group.history(cat, undefined, 50)).messages)).toEqual(joined);
    expect(labels(ok(await group.history(cat, 5, 50)).messages)).toEqual([]);
    expect(labels(ok(await group.sync(bob, 0, 50)).messages)).toEqual(["created", "added", "old one", "old two", "added", "new"]);
  });

  it("shows a member removed and added again nothing from the time they were away", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    ok(await group.remove(ann, bob));
    ok(await group.send(ann, "c1", "while bob was away"));
    ok(await group.add(ann, [bob]));
    ok(await group.send(ann, "c2", "welcome back"));
    expect(labels(ok(await group.sync(bob, 0, 50)).messages)).toEqual(["added", "welcome back"]);
    expect(ok(await group.send(bob, "c3", "thanks")).message.seq).toBe(7);
  });
});

describe("keeping an admin", () => {
  it("promotes the longest-standing member when the last admin leaves, not the first by name", async () => {
    const [ann, zed, amy] = await registered("ann", "zed", "amy");
    const { group } = await createGroup(ann, [zed]);
    ok(await group.add(ann, [amy]));
    ok(await group.leave(ann));

    const info = ok(await group.info(zed));
    expect(rolesOf(info)).toEqual({ [zed]: "admin", [amy]: "member" });
    expect(ok(await group.sync(zed, 3, 50)).messages.map((m) => m.event)).toEqual([
      { kind: "promoted", by: ann, user: zed },
      { kind: "left", user: ann },
    ]);
    ok(await group.rename(zed, "Zed's now"));
    expect(refused(await group.add(ann, [ann]))).toBe("not_a_member");
  });

  it("promotes nobody when an admin leaves while another admin stays", async () => {
    const [ann, bob, cat] = await registered("ann", "bob", "cat");
    const { group } = await createGroup(ann, [bob, cat]);
    ok(await group.setRole(ann, cat, "promote"));
    ok(await group.leave(ann));
    expect(rolesOf(ok(await group.info(bob)))).toEqual({ [bob]: "member", [cat]: "admin" });
  });

  it("treats an admin removing themself as leaving", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    ok(await group.remove(ann, ann));
    expect(rolesOf(ok(await group.info(bob)))).toEqual({ [bob]: "admin" });
    expect(ok(await group.sync(bob, 2, 50)).messages.map((m) => m.event?.kind)).toEqual(["promoted", "left"]);
  });

  it("refuses to demote the last admin, and lets an admin step down while another remains", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const { group } = await createGroup(ann, [bob]);
    expect(refused(await group.setRole(ann, ann, "demote"))).toBe("not_authorized");
    ok(await group.setRole(ann, bob, "promote"));
    ok(await group.setRole(ann, ann, "demote"));
    expect(refused(await group.setRole(bob, bob, "demote"))).toBe("not_authorized");
    expect(rolesOf(ok(await group.info(ann)))).toEqual({ [ann]: "member", [bob]: "admin" });
  });

  it("leaves an empty group when its last member leaves", async () => {
    const [ann] = await registered("ann");
    const { group } = await createGroup(ann, []);
    const info = ok(await group.leave(ann));
    expect(info.members).toEqual([]);
    expect(refused(await group.info(ann))).toBe("not_a_member");
  });
});
