/**
 * A group id that was never created: any user can name one, so every call
 * about it is answered `unknown_group`, and none of them leaves anything
 * stored behind (not even the group's tables).
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GroupObject } from "../../../src/objects/group";
import { connectReady } from "../helpers";
import { accounts, createGroup, groupStub, newGroupId, ok, refused, registered } from "./support";

/** The tables in a group object's SQLite (the runtime's own `_cf_` ones left out). */
function tablesOf(id: string): Promise<string[]> {
  return runInDurableObject(groupStub(id), (_instance: GroupObject, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' ORDER BY name")
      .toArray()
      .map((r) => r.name),
  );
}

/** Every call a user's object makes to a group on behalf of `user`, each with its result. */
function everyCall(id: string, user: string, other: string) {
  const group = groupStub(id);
  return {
    info: group.info(user),
    send: group.send(user, "c1", "hi"),
    add: group.add(user, [other]),
    remove: group.remove(user, other),
    leave: group.leave(user),
    promote: group.setRole(user, other, "promote"),
    demote: group.setRole(user, other, "demote"),
    rename: group.rename(user, "x"),
    msginfo: group.messageInfo(user, 1),
    sync: group.sync(user, 0, 50),
    history: group.history(user, undefined, 50),
    acknowledge: group.acknowledge(user, "read", 1),
  };
}

describe("a group id that was never created", () => {
  it("answers unknown_group to every call naming it", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const calls = everyCall(newGroupId(), ann, bob);
    const codes = Object.fromEntries(await Promise.all(Object.entries(calls).map(async ([name, call]) => [name, refused(await call)])));
    expect(codes).toEqual(Object.fromEntries(Object.keys(calls).map((name) => [name, "unknown_group"])));
  });

  it("stores nothing, however it is asked about", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const id = newGroupId();
    await Promise.all(Object.values(everyCall(id, ann, bob)));
    await groupStub(id).typing(ann, true);
    expect(await tablesOf(id)).toEqual([]);
  });

  it("stores nothing when its creation is refused, and can be created after", async () => {
    const [ann, bob] = await registered("ann", "bob");
    const id = newGroupId();
    expect(refused(await groupStub(id).create(ann, id, "Nope", [bob, "nobody_here_1"]))).toBe("unknown_user");
    expect(await tablesOf(id)).toEqual([]);

    ok(await groupStub(id).create(ann, id, "Yes", [bob]));
    expect(ok(await groupStub(id).info(bob)).members.map((m) => m.user)).toEqual([ann, bob]);
    expect(await tablesOf(id)).toContain("members");
  });

  it("is answered unknown_group over a device's socket, and its receipts not_a_member by the user's own object", async () => {
    const [ann] = await accounts("ann");
    const annPhone = await connectReady(ann);
    const group = newGroupId();
    const frames = [
      { type: "group.sync", ref: "s", group },
      { type: "group.history", ref: "h", group },
      { type: "group.info", ref: "i", group },
      { type: "group.send", ref: "m", group, clientId: "c1", text: "hi" },
      { type: "group.msginfo", ref: "mi", group, seq: 1 },
      { type: "group.add", ref: "a", group, members: [ann.user] },
      { type: "group.leave", ref: "l", group },
    ] as const;
    for (const frame of frames) annPhone.send(frame);
    for (const { ref } of frames) expect(await annPhone.nextOf("error", ref)).toMatchObject({ code: "unknown_group" });
    annPhone.send({ type: "group.read", ref: "r", group, upto: 1 });
    expect(await annPhone.nextOf("error", "r")).toMatchObject({ code: "not_a_member" });
    expect(await tablesOf(group)).toEqual([]);
  });

  it("is not confused with a group the user is not in, which answers not_a_member", async () => {
    const [ann, bob, eve] = await registered("ann", "bob", "eve");
    const { group } = await createGroup(ann, [bob]);
    expect(refused(await group.sync(eve, 0, 50))).toBe("not_a_member");
    expect(refused(await group.history(eve, undefined, 50))).toBe("not_a_member");
    expect(refused(await group.acknowledge(eve, "read", 1))).toBe("not_a_member");
  });
});
