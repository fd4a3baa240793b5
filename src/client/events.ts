import type { HelloFrame, PresenceState, Settings } from "../protocol";
import type { ConnectionStatus } from "./connection";
import type { GroupChat, GroupChatMessage } from "./group-model";
import type { Chat, ChatMessage } from "./model";

/** Who is typing in a chat or group right now. */
export interface TypingState {
  /** The one-to-one chat (the peer), or */
  chat?: string;
  /** the group. */
  group?: string;
  users: string[];
}

/** Where a typing indicator goes: a one-to-one chat or a group. */
export type TypingTarget = { chat: string } | { group: string };

export interface ClientEvents {
  /** A message new to this client: from the peer, or mine from another device. */
  message: ChatMessage;
  /** The server stored one of my messages. */
  sent: ChatMessage;
  /** A chat's receipt watermarks moved; its messages' ticks are updated. */
  receipt: Chat;
  /** One of my messages failed: refused by the server, or undeliverable. */
  failed: ChatMessage;
  /** A group message new to this client (others', system messages, mine from another device). */
  groupMessage: GroupChatMessage;
  /** The group stored one of my messages. */
  groupSent: GroupChatMessage;
  /** A group's watermarks moved; my messages' ticks are updated. */
  groupReceipt: GroupChat;
  /** One of my group messages was refused, or some members could not be reached. */
  groupFailed: GroupChatMessage;
  /** My membership of a group, or the group's name, changed. */
  group: GroupChat;
  /** Someone's "online" / "last seen" (after `subscribePresence` or `queryPresence`). */
  presence: PresenceState;
  /** Who is typing changed in a chat or group. */
  typing: TypingState;
  /** My privacy settings (after `getSettings`, or a change from any of my devices). */
  settings: Settings;
  status: ConnectionStatus;
  /** The server's greeting on each connection. */
  hello: HelloFrame;
  /** A sync finished: the client holds everything up to `rev`. */
  synced: { rev: number };
  /** Something in this chat (a peer's username) or group (its id) changed (for redrawing). */
  change: string;
  /** Errors nobody asked for: a refused receipt, an unreadable frame, a failing listener. */
  error: Error;
}
