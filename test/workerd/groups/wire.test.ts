/**
 * Group frames through a device's socket: the user's object forwards them
 * with the socket's identity and relays the group's answer or refusal.
 */
import { describe, expect, it } from "vitest";
import { connectReady } from "../helpers";
import { accounts, createGroup } from "./support";

describe("group frames from a device", () => {
  it("creates a group and tells every member's devices, the creator's other devices included", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const [annPhone, annLaptop, bobPhone] = await Promise.all([connectReady(ann, { device: "phone" }), connectReady(ann, { device: "laptop" }), connectReady(bob)]);
    annPhone.send({ type: "group.create", ref: "g1", name: "  Trip  ", members: [bob.user] });
    const { info } = await annPhone.nextOf("group.created", "g1");
    expect(info).toMatchObject({ name: "Trip", createdBy: ann.user, members: [{ user: ann.user, role: "admin" }, { user: bob.user, role: "member" }] });
    expect(info.group).toMatch(/^g_[0-9a-f]{32}$/);

    const membership = (role: string) => ({ group: info.group, name: "Trip", role, active: true });
    expect((await annLaptop.nextOf("group.changed")).membership).toEqual(membership("admin"));
    expect((await bobPhone.nextOf("group.changed")).membership).toEqual(membership("member"));
    bobPhone.send({ type: "sync", ref: "s" });
    expect((await bobPhone.nextOf("sync.page", "s")).groups).toEqual([membership("member")]);
  });

  it("answers a refused frame with an error carrying its ref", async () => {
    const [ann, bob, eve] = await accounts("ann", "bob", "eve");
    const { id } = await createGroup(ann.user, [bob.user]);
    const [bobPhone, evePhone] = await Promise.all([connectReady(bob), connectReady(eve)]);

    evePhone.send({ type: "group.send", ref: "e1", group: id, clientId: "c1", text: "hi" });
    expect(await evePhone.nextOf("error", "e1")).toMatchObject({ code: "not_a_member" });
    bobPhone.send({ type: "group.rename", ref: "b1", group: id, name: "Bob's" });
    expect(await bobPhone.nextOf("error", "b1")).toMatchObject({ code: "not_admin" });
    bobPhone.send({ type: "group.info", ref: "b2", group: "g_0123456789abcdef0123456789abcdef" });
    expect(await bobPhone.nextOf("error", "b2")).toMatchObject({ code: "unknown_group" });
    bobPhone.send({ type: "group.info", ref: "b3", group: "not-a-group" });
    expect(await bobPhone.nextOf("error", "b3")).toMatchObject({ code: "bad_frame" });
    bobPhone.send({ type: "group.create", ref: "b4", name: "Big", members: Array.from({ length: 257 }, (_, i) => `user_${i}`) });
    expect(await bobPhone.nextOf("error", "b4")).toMatchObject({ code: "bad_frame" });
  });

  it("pages the log with group.sync and group.history", async () => {
    const [ann, bob] = await accounts("ann", "bob");
    const { id } = await createGroup(ann.user, [bob.user]);
    const annPhone = await connectReady(ann);
    for (let i = 1; i <= 5; i++) {
      annPhone.send({ type: "group.send", ref: `s${i}`, group: id, clientId: `c${i}`, text: `m${i}` });
      await annPhone.nextOf("group.sent", `s${i}`);
    }
    const bobPhone = await connectReady(bob);
    bobPhone.send({ type: "group.sync", ref: "p1", group: id, after: 2, limit: 3 });
    const first = await bobPhone.nextOf("group.page", "p1");
    expect(first).toMatchObject({ group: id, more: true, head: 7 });
    expect(first.messages.map((m) => m.text)).toEqual(["m1", "m2", "m3"]);
    bobPhone.send({ type: "group.sync", ref: "p2", group: id, after: first.messages[2]!.seq, limit: 3 });
    const second = await bobPhone.nextOf("group.page", "p2");
    expect(second).toMatchObject({ more: false });
    expect(second.messages.map((m) => m.text)).toEqual(["m4", "m5"]);

    bobPhone.send({ type: "group.history", ref: "h1", group: id, before: 6, limit: 2 });
    const older = await bobPhone.nextOf("group.page", "h1");
    expect(older).toMatchObject({ more: true });
    expect(older.messages.map((m) => m.text)).toEqual(["m2", "m3"]);
  });
});
