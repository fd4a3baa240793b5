import type { ChatState, Failure, FrameErrorCode, Message, MessageStatus, MsgSentFrame } from "../protocol";
import { insertOrdered, MessageIndex, removeFrom, tickFrom, type ShownMessage } from "./own-messages";
import type { PendingMessage } from "./storage";

export type { Tick } from "./own-messages";

/**
 * A message as the client shows it. Own messages carry `status`; `seq` is the
 * position in the sender's stream; `failReason` says why it failed (the
 * server gave up delivering it, or refused the frame).
 */
export interface ChatMessage extends ShownMessage {
  chat: string;
  to: string;
  /** Position in this user's log; absent while pending. */
  rev?: number;
  text: string;
  /** The server's stamp, or the local time while pending. */
  sentAt: number;
}

/** One chat: the receipt watermarks and the messages held, by rev, pending ones last. */
export interface Chat extends ChatState {
  messages: ChatMessage[];
}

const EMPTY_STATE = { delivered: 0, read: 0, readByMe: 0, lastIn: 0, lastOut: 0, rev: 0 };

/**
 * The client's in-memory picture: chats, their messages ordered by rev, and
 * ticks derived from the receipt watermarks. Every change is an upsert, so a
 * message synced twice, or acknowledged after a resend, appears once.
 */
export class ChatModel {
  readonly #chats = new Map<string, Chat>();
  readonly #held = new MessageIndex<ChatMessage>();

  /** The signed-in user, once known. */
  get me(): string | undefined {
    return this.#held.me;
  }

  setMe(user: string): void {
    this.#held.setMe(user);
  }

  chat(name: string): Chat | undefined {
    return this.#chats.get(name);
  }

  /** Chats with the most recent activity first. */
  chats(): Chat[] {
    return [...this.#chats.values()].sort((a, b) => lastRev(b) - lastRev(a));
  }

  /** Messages from the peer the user has not read yet. */
  unread(name: string): number {
    const chat = this.#chats.get(name);
    return chat ? chat.messages.filter((m) => !m.mine && (m.seq ?? 0) > chat.readByMe).length : 0;
  }

  /** Highest seq received from the peer (what a receipt acknowledges). */
  lastIncoming(name: string): number {
    const chat = this.#chats.get(name);
    if (!chat) return 0;
    let last = chat.lastIn;
    for (const m of chat.messages) if (!m.mine && m.seq !== undefined && m.seq > last) last = m.seq;
    return last;
  }

  /** Inserts or updates a server message; returns it, and whether it was new to this client. */
  upsert(message: Message): { message: ChatMessage; added: boolean } {
    const chat = this.#chatOf(message.chat);
    const mine = message.from !== message.chat;
    if (mine && message.status) raiseWatermarks(chat, message.seq, message.status);
    const known = this.#held.find(message.id, message.clientId, mine);
    const entry: ChatMessage = known ?? { clientId: message.clientId, chat: message.chat, from: message.from, to: message.to, mine, text: message.text, sentAt: message.sentAt };
    const placed = entry.rev !== undefined;
    Object.assign(entry, { id: message.id, seq: message.seq, rev: message.rev, sentAt: message.sentAt });
    if (message.failReason) entry.failReason = message.failReason;
    if (message.status === "failed") entry.failReason ??= "unreachable";
    if (!placed) {
      if (known) removeFrom(chat.messages, known);
      insertOrdered(chat.messages, entry, (m) => m.rev);
    }
    this.#held.add(entry);
    if (mine) entry.status = tickFrom(entry, chat);
    return { message: entry, added: known === undefined };
  }

  /** A message waiting in the outbox. */
  addPending(pending: PendingMessage): ChatMessage {
    const known = this.#held.ownByClientId(pending.clientId);
    if (known) return known;
    const chat = this.#chatOf(pending.to);
    const entry: ChatMessage = {
      clientId: pending.clientId,
      chat: pending.to,
      from: this.me ?? "",
      to: pending.to,
      mine: true,
      text: pending.text,
      sentAt: pending.createdAt,
      status: "pending",
    };
    chat.messages.push(entry);
    this.#held.add(entry);
    return entry;
  }

  /** The server stored an own message (`msg.sent`), possibly one sent before this client knew of it. */
  acknowledge(ack: MsgSentFrame, text: string): ChatMessage {
    const me = this.me ?? "";
    return this.upsert({ id: ack.id, chat: ack.chat, from: me, to: ack.chat, seq: ack.seq, clientId: ack.clientId, text, sentAt: ack.sentAt, rev: ack.rev, status: "sent" }).message;
  }

  /** The server gave up delivering an own message (`msg.failed`, or a failure in a sync page). */
  fail(failure: Failure): ChatMessage | undefined {
    const entry = this.#held.find(failure.id, failure.clientId, true);
    if (!entry) return undefined;
    entry.failReason = failure.reason;
    entry.status = "failed";
    return entry;
  }

  /** The server refused an own message outright: it was never stored. */
  reject(clientId: string, code: FrameErrorCode): ChatMessage | undefined {
    return this.#held.reject(clientId, code);
  }

  /** Drops a failed message from view (it is being sent again as a new one). */
  discard(clientId: string): void {
    const entry = this.#held.discard(clientId);
    if (entry) removeFrom(this.#chatOf(entry.chat).messages, entry);
  }

  /** New receipt watermarks for a chat; they only ever move forward. */
  applyChat(state: ChatState): Chat {
    const chat = this.#chatOf(state.chat);
    chat.delivered = Math.max(chat.delivered, state.delivered, state.read);
    chat.read = Math.max(chat.read, state.read);
    chat.readByMe = Math.max(chat.readByMe, state.readByMe);
    chat.lastIn = Math.max(chat.lastIn, state.lastIn);
    chat.lastOut = Math.max(chat.lastOut, state.lastOut);
    chat.rev = Math.max(chat.rev, state.rev);
    for (const m of chat.messages) if (m.mine) m.status = tickFrom(m, chat);
    return chat;
  }

  /** Forgets everything (another user signs in). */
  clear(): void {
    this.#chats.clear();
    this.#held.clear();
  }

  #chatOf(name: string): Chat {
    let chat = this.#chats.get(name);
    if (!chat) this.#chats.set(name, (chat = { chat: name, ...EMPTY_STATE, messages: [] }));
    return chat;
  }
}

/** A synced own message's status tells what the watermarks were when it was read from the server. */
function raiseWatermarks(chat: Chat, seq: number, status: MessageStatus): void {
  if (status === "read") chat.read = Math.max(chat.read, seq);
  if (status === "read" || status === "delivered") chat.delivered = Math.max(chat.delivered, seq);
}

function lastRev(chat: Chat): number {
  const last = chat.messages.at(-1);
  return last ? (last.rev ?? Number.MAX_SAFE_INTEGER) : chat.rev;
}
