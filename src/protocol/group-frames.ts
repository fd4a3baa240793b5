/**
 * Group chat frames. A group is one Durable Object; its log has one strictly
 * increasing `seq` that every member sees in the same order.
 */
import * as v from "valibot";
import { groupId, id, positive, ref, seq, username } from "./fields";
export { GROUP_ID_PATTERN } from "./fields";
import { MAX_HISTORY_PAGE } from "./limits";

const groupName = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100));
/** Bounded so one frame cannot ask for an unbounded amount of work. */
export const MAX_MEMBERS_PER_FRAME = 256;
const usernames = v.pipe(v.array(username), v.maxLength(MAX_MEMBERS_PER_FRAME));

export const GroupCreate = v.object({
  type: v.literal("group.create"),
  ref,
  name: groupName,
  members: v.optional(usernames, []),
  /** The idempotency key: a resend with the same one answers the group it created. */
  clientId: v.optional(id),
});
export const GroupAdd = v.object({ type: v.literal("group.add"), ref, group: groupId, members: v.pipe(usernames, v.minLength(1)) });
export const GroupRemove = v.object({ type: v.literal("group.remove"), ref, group: groupId, member: username });
export const GroupPromote = v.object({ type: v.literal("group.promote"), ref, group: groupId, member: username });
export const GroupDemote = v.object({ type: v.literal("group.demote"), ref, group: groupId, member: username });
export const GroupLeave = v.object({ type: v.literal("group.leave"), ref, group: groupId });
export const GroupRename = v.object({ type: v.literal("group.rename"), ref, group: groupId, name: groupName });
export const GroupInfoRequest = v.object({ type: v.literal("group.info"), ref, group: groupId });
export const GroupSend = v.object({
  type: v.literal("group.send"),
  ref,
  clientId: id,
  group: groupId,
  text: v.pipe(v.string(), v.minLength(1)),
});
export const GroupSync = v.object({
  type: v.literal("group.sync"),
  ref,
  group: groupId,
  /** The last group seq this device has; absent for the newest page. */
  after: v.optional(seq),
  limit: v.optional(v.pipe(positive, v.maxValue(MAX_HISTORY_PAGE))),
});
export const GroupHistory = v.object({
  type: v.literal("group.history"),
  ref,
  group: groupId,
  before: v.optional(positive),
  limit: v.optional(v.pipe(positive, v.maxValue(MAX_HISTORY_PAGE))),
});
export const GroupDelivered = v.object({ type: v.literal("group.delivered"), ref, group: groupId, upto: positive });
export const GroupRead = v.object({ type: v.literal("group.read"), ref, group: groupId, upto: positive });
export const GroupMessageInfo = v.object({ type: v.literal("group.msginfo"), ref, group: groupId, seq: positive });

export const GROUP_FRAME_SCHEMAS = {
  "group.create": GroupCreate,
  "group.add": GroupAdd,
  "group.remove": GroupRemove,
  "group.promote": GroupPromote,
  "group.demote": GroupDemote,
  "group.leave": GroupLeave,
  "group.rename": GroupRename,
  "group.info": GroupInfoRequest,
  "group.send": GroupSend,
  "group.sync": GroupSync,
  "group.history": GroupHistory,
  "group.delivered": GroupDelivered,
  "group.read": GroupRead,
  "group.msginfo": GroupMessageInfo,
} as const;

export const GROUP_USER_ACTIVITY: Record<keyof typeof GROUP_FRAME_SCHEMAS, boolean> = {
  "group.create": true,
  "group.add": true,
  "group.remove": true,
  "group.promote": true,
  "group.demote": true,
  "group.leave": true,
  "group.rename": true,
  "group.info": true,
  "group.send": true,
  "group.sync": false,
  "group.history": true,
  "group.delivered": false,
  "group.read": true,
  "group.msginfo": true,
};

// ---- server -> client -------------------------------------------------------

export type GroupRole = "admin" | "member";

export interface GroupMember {
  user: string;
  role: GroupRole;
  joinedAt: number;
}

export interface GroupInfo {
  group: string;
  name: string;
  createdBy: string;
  createdAt: number;
  /** The newest seq in the group's log. */
  head: number;
  cap: number;
  members: GroupMember[];
}

/** A system message records a change every device shows in the same place. */
export type GroupEvent =
  | { kind: "created"; by: string; name: string }
  | { kind: "added"; by: string; users: string[] }
  | { kind: "removed"; by: string; user: string }
  | { kind: "left"; user: string }
  | { kind: "promoted"; by: string; user: string }
  | { kind: "demoted"; by: string; user: string }
  | { kind: "renamed"; by: string; name: string };

export interface GroupMessage {
  id: string;
  group: string;
  seq: number;
  from: string;
  clientId: string;
  /** Empty for system messages. */
  text: string;
  sentAt: number;
  event?: GroupEvent;
}

/** One of the user's groups, as the user's object remembers it. */
export interface GroupMembership {
  group: string;
  name: string;
  role: GroupRole;
  /** False once the user left or was removed. */
  active: boolean;
}

export interface GroupCreatedFrame {
  type: "group.created";
  ref?: string;
  info: GroupInfo;
  /** True in the answer to a resend (same `clientId`) of the create that made this group. */
  duplicate: boolean;
}
export interface GroupInfoFrame { type: "group.info"; ref?: string; info: GroupInfo }
export interface GroupSentFrame {
  type: "group.sent";
  ref?: string;
  clientId: string;
  group: string;
  id: string;
  seq: number;
  sentAt: number;
  duplicate: boolean;
}
export interface GroupMsgFrame { type: "group.msg"; message: GroupMessage }
export interface GroupPageFrame {
  type: "group.page";
  ref?: string;
  group: string;
  /** Oldest first. */
  messages: GroupMessage[];
  more: boolean;
  head: number;
  /** Every member has received / read the group's messages up to these seqs. */
  delivered: number;
  read: number;
  /** I have read up to this seq (my own watermark, shared by my devices: the unread count starts here). */
  readByMe: number;
}
/** The group-wide receipt watermarks moved; sent to the senders of the messages they cover. */
export interface GroupReceiptFrame { type: "group.receipt"; group: string; delivered: number; read: number }
/** Members that could not be reached after every retry, for a message I sent. */
export interface GroupFailedFrame { type: "group.failed"; group: string; seq: number; id: string; clientId: string; members: string[] }
export interface GroupChangedFrame { type: "group.changed"; membership: GroupMembership; rev: number }
export interface GroupMsgInfoFrame {
  type: "group.msginfo";
  ref?: string;
  group: string;
  seq: number;
  members: { user: string; delivered: boolean; deliveredAt: number | null; read: boolean; readAt: number | null }[];
}

export type GroupServerFrame =
  | GroupCreatedFrame
  | GroupInfoFrame
  | GroupSentFrame
  | GroupMsgFrame
  | GroupPageFrame
  | GroupReceiptFrame
  | GroupFailedFrame
  | GroupChangedFrame
  | GroupMsgInfoFrame;
