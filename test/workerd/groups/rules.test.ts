/**
 * The group's decisions as plain functions: who may do what, who inherits
 * the admin role, and which log entries a member's object is shown.
 */
import { describe, expect, it } from "vitest";
import { mayAct, roleAfter, successorAdmin, visibleTo, type GroupAction } from "../../../src/objects/group-rules";
import type { MemberRow } from "../../../src/objects/group-store";
import type { GroupMessage } from "../../../src/protocol";

const EVERYONE: GroupAction[] = ["send", "read", "info", "leave", "msginfo"];
const ADMINS_ONLY: GroupAction[] = ["add", "remove", "promote", "demote", "rename"];

function row(user: string, patch: Partial<MemberRow> = {}): MemberRow {
  return { user, role: "member", joined_seq: 0, joined_at: 0, left_seq: null, delivered: 0, read: 0, membership_retry_at: 0, ...patch };
}

function message(seq: number, from: string, event?: GroupMessage["event"]): GroupMessage {
  const m: GroupMessage = { id: `m${seq}`, group: "g_test0000", seq, from, clientId: `c${seq}`, text: event ? "" : `text ${seq}`, sentAt: seq };
  if (event) m.event = event;
  return m;
}

describe("mayAct", () => {
  it.each(EVERYONE)("lets a current member %s", (action) => {
    expect(mayAct(row("bob"), action)).toBe("ok");
  });

  it.each(ADMINS_ONLY)("refuses a plain member who tries to %s with not_admin", (action) => {
    expect(mayAct(row("bob"), action)).toBe("not_admin");
  });

  it.each([...EVERYONE, ...ADMINS_ONLY])("lets an admin %s", (action) => {
    expect(mayAct(row("ann", { role: "admin" }), action)).toBe("ok");
  });

  it.each([...EVERYONE, ...ADMINS_ONLY])("refuses a former member who tries to %s with not_a_member, even one who was admin", (action) => {
    expect(mayAct(row("bob", { left_seq: 7 }), action)).toBe("not_a_member");
    expect(mayAct(row("ann", { role: "admin", left_seq: 7 }), action)).toBe("not_a_member");
  });

  it.each([...EVERYONE, ...ADMINS_ONLY])("refuses someone who never joined who tries to %s with not_a_member", (action) => {
    expect(mayAct(undefined, action)).toBe("not_a_member");
  });
});

describe("successorAdmin", () => {
  it("names the longest-standing member when the only admin leaves", () => {
    const current = [row("ann", { role: "admin" }), row("zed", { joined_seq: 0 }), row("amy", { joined_seq: 5 })];
    expect(successorAdmin(current, "ann")).toBe("zed");
  });

  it("names nobody while another admin stays", () => {
    const current = [row("ann", { role: "admin" }), row("bob"), row("cat", { role: "admin", joined_seq: 3 })];
    expect(successorAdmin(current, "ann")).toBeUndefined();
  });

  it("names nobody when the last member leaves", () => {
    expect(successorAdmin([row("ann", { role: "admin" })], "ann")).toBeUndefined();
  });

  it("names nobody when a plain member leaves", () => {
    expect(successorAdmin([row("ann", { role: "admin" }), row("bob")], "bob")).toBeUndefined();
  });
});

describe("visibleTo", () => {
  const log = [
    message(1, "ann", { kind: "created", by: "ann", name: "g" }),
    message(2, "ann"),
    message(3, "ann", { kind: "added", by: "ann", users: ["bob"] }),
    message(4, "bob"),
    message(5, "ann"),
    message(6, "ann", { kind: "removed", by: "ann", user: "bob" }),
    message(7, "ann"),
  ];

  it("shows a member only what came after they joined", () => {
    expect(visibleTo(row("cat", { joined_seq: 3 }), log).map((m) => m.seq)).toEqual([4, 5, 6, 7]);
  });

  it("shows a former member nothing after the entry that recorded their departure", () => {
    expect(visibleTo(row("cat", { joined_seq: 2, left_seq: 6 }), log).map((m) => m.seq)).toEqual([3, 4, 5, 6]);
  });

  it("leaves out a member's own messages but keeps the system messages they caused", () => {
    expect(visibleTo(row("ann", { role: "admin" }), log).map((m) => m.seq)).toEqual([1, 3, 4, 6]);
    expect(visibleTo(row("bob", { joined_seq: 2 }), log).map((m) => m.seq)).toEqual([3, 5, 6, 7]);
  });
});

describe("roleAfter", () => {
  it("makes an admin on promote and a member on demote", () => {
    expect(roleAfter("promote")).toBe("admin");
    expect(roleAfter("demote")).toBe("member");
  });
});
