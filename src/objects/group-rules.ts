import type { GroupMessage, GroupRole } from "../protocol";
import type { MemberRow } from "./group-store";

/**
 * The group's decisions as plain functions: who may do what, who takes over
 * as admin, which messages a member's object must be shown.
 */
export type GroupAction = "send" | "read" | "info" | "add" | "remove" | "promote" | "demote" | "rename" | "leave" | "msginfo";

const ADMIN_ONLY: ReadonlySet<GroupAction> = new Set(["add", "remove", "promote", "demote", "rename"]);

/** Only current members act; membership and the group's name are for admins. */
export function mayAct(member: Pick<MemberRow, "role" | "left_seq"> | undefined, action: GroupAction): "ok" | "not_a_member" | "not_admin" {
  if (!member || member.left_seq !== null) return "not_a_member";
  if (ADMIN_ONLY.has(action) && member.role !== "admin") return "not_admin";
  return "ok";
}

/**
 * When the last admin leaves, the longest-standing member becomes admin
 * (WhatsApp's rule), so a group is never left without one.
 */
export function successorAdmin(current: readonly MemberRow[], leaving: string): string | undefined {
  const others = current.filter((m) => m.user !== leaving);
  if (others.some((m) => m.role === "admin")) return undefined;
  return others[0]?.user;
}

/**
 * What a member's object is shown of a batch: only messages after they
 * joined and, for ordinary messages, not their own (their object already
 * showed those to their other devices when they sent them).
 */
export function visibleTo(member: Pick<MemberRow, "user" | "joined_seq" | "left_seq">, messages: readonly GroupMessage[]): GroupMessage[] {
  const ceiling = member.left_seq ?? Number.MAX_SAFE_INTEGER;
  return messages.filter((m) => m.seq > member.joined_seq && m.seq <= ceiling && (m.event !== undefined || m.from !== member.user));
}

export function roleAfter(action: "promote" | "demote"): GroupRole {
  return action === "promote" ? "admin" : "member";
}
