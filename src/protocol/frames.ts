/**
 * The wire protocol: every frame in both directions. One schema, shared by the
 * objects (which validate with it), the client SDK and the tests.
 * docs/protocol.md describes each frame in prose.
 */
import * as v from "valibot";
import { id, positive, ref, seq, username } from "./fields";
import type { FailureReason, FrameErrorCode } from "./errors";
import { GROUP_FRAME_SCHEMAS, GROUP_USER_ACTIVITY, type GroupMembership, type GroupServerFrame } from "./group-frames";
import { PRESENCE_FRAME_SCHEMAS, PRESENCE_USER_ACTIVITY, type PresenceServerFrame } from "./presence-frames";
import { MAX_HISTORY_PAGE, type Limits } from "./limits";


// ---- client -> server -------------------------------------------------------

export const MsgSend = v.object({
  type: v.literal("msg.send"),
  ref,
  /** Chosen by the client; a resend with the same id is answered, not stored again. */
  clientId: id,
  to: username,
  text: v.pipe(v.string(), v.minLength(1)),
});

export const Sync = v.object({
  type: v.literal("sync"),
  ref,
  /** The last `rev` this device has; absent on a brand-new device. */
  after: v.optional(seq),
});

export const History = v.object({
  type: v.literal("history"),
  ref,
  chat: username,
  /** Page backwards from this `rev` (exclusive); absent for the newest page. */
  before: v.optional(positive),
  limit: v.optional(v.pipe(positive, v.maxValue(MAX_HISTORY_PAGE))),
});

export const ReceiptDelivered = v.object({
  type: v.literal("receipt.delivered"),
  ref,
  chat: username,
  /** Every message from `chat` with `seq <= upto` has reached this device. */
  upto: positive,
});

export const ReceiptRead = v.object({
  type: v.literal("receipt.read"),
  ref,
  chat: username,
  /** The user has seen every message from `chat` with `seq <= upto`. */
  upto: positive,
});

export const CLIENT_FRAME_SCHEMAS = {
  "msg.send": MsgSend,
  sync: Sync,
  history: History,
  "receipt.delivered": ReceiptDelivered,
  "receipt.read": ReceiptRead,
  ...GROUP_FRAME_SCHEMAS,
  ...PRESENCE_FRAME_SCHEMAS,
} as const;

export type ClientFrameType = keyof typeof CLIENT_FRAME_SCHEMAS;
export type ClientFrame = { [K in ClientFrameType]: v.InferOutput<(typeof CLIENT_FRAME_SCHEMAS)[K]> }[ClientFrameType];
export type ClientFrameOf<K extends ClientFrameType> = Extract<ClientFrame, { type: K }>;

/**
 * Whether a frame is the user doing something (typing a message, opening a
 * chat) or the app working in the background (syncing, acknowledging
 * delivery). Only user activity counts towards "online" and "last seen".
 */
export const USER_ACTIVITY: Record<ClientFrameType, boolean> = {
  "msg.send": true,
  sync: false,
  history: true,
  "receipt.delivered": false,
  "receipt.read": true,
  ...GROUP_USER_ACTIVITY,
  ...PRESENCE_USER_ACTIVITY,
};

// ---- server -> client -------------------------------------------------------

export type MessageStatus = "sent" | "delivered" | "read" | "failed";

export interface Message {
  /** Server id, unique across the deployment. */
  id: string;
  /** The other user of the one-to-one chat, from the reader's point of view. */
  chat: string;
  from: string;
  to: string;
  /** Position in the sender's stream to `to` (1, 2, 3...): receipts refer to it. */
  seq: number;
  clientId: string;
  text: string;
  /** Milliseconds since the epoch, stamped by the sender's object. */
  sentAt: number;
  /** Position in the reader's own log: the sync cursor and display order. */
  rev: number;
  /** Only on the reader's own messages. */
  status?: MessageStatus;
  failReason?: FailureReason;
}

/** Receipt watermarks of one chat. */
export interface ChatState {
  chat: string;
  /** The peer has received my messages up to this seq. */
  delivered: number;
  /** The peer has read my messages up to this seq. */
  read: number;
  /** I (on some device) have read the peer's messages up to this seq. */
  readByMe: number;
  /** Last seq the peer sent me. */
  lastIn: number;
  /** Last seq I sent the peer. */
  lastOut: number;
  rev: number;
}

export interface Failure {
  id: string;
  clientId: string;
  chat: string;
  seq: number;
  reason: FailureReason;
  rev: number;
}

export interface HelloFrame {
  type: "hello";
  user: string;
  device: string;
  /** The newest rev in this user's log. */
  rev: number;
  serverTime: number;
  limits: Limits;
}

export interface MsgSentFrame {
  type: "msg.sent";
  ref?: string;
  clientId: string;
  id: string;
  chat: string;
  seq: number;
  rev: number;
  sentAt: number;
  /** True when this answers a resend of a message already stored. */
  duplicate: boolean;
}

export interface MsgFrame {
  type: "msg";
  message: Message;
}

export interface MsgFailedFrame extends Failure {
  type: "msg.failed";
}

export interface ReceiptFrame extends ChatState {
  type: "receipt";
}

export interface SyncPageFrame {
  type: "sync.page";
  ref?: string;
  messages: Message[];
  chats: ChatState[];
  /** Older messages (already synced) that have failed since. */
  failures: Failure[];
  /** Every group I am or was in; sync each with `group.sync` from its own cursor. */
  groups: GroupMembership[];
  /** The cursor to keep: ask again with `after: rev` while `more` is true. */
  rev: number;
  more: boolean;
}

export interface HistoryPageFrame {
  type: "history.page";
  ref?: string;
  chat: string;
  /** Oldest first. */
  messages: Message[];
  more: boolean;
}

export interface ErrorFrame {
  type: "error";
  code: FrameErrorCode;
  message: string;
  ref?: string;
  /** With rate_limited: when a retry will be accepted. */
  retryAfterMs?: number;
  /**
   * With rate_limited on a send: the clientId this socket must send again
   * before any newer message is accepted (this frame's own, or an earlier
   * refused one), so messages keep the order they were typed in.
   */
  resendFirst?: string;
}

export type ServerFrame =
  | HelloFrame
  | MsgSentFrame
  | MsgFrame
  | MsgFailedFrame
  | ReceiptFrame
  | SyncPageFrame
  | HistoryPageFrame
  | ErrorFrame
  | GroupServerFrame
  | PresenceServerFrame;
