import type {
  FrameErrorCode,
  GroupEvent,
  GroupFailedFrame,
  GroupInfo,
  GroupMembership,
  GroupMessage,
  GroupPageFrame,
  GroupRole,
  GroupSentFrame,
} from "../protocol";
import { insertOrdered, MessageIndex, removeFrom, tickFrom, type ShownMessage } from "./own-messages";
import type { PendingMessage } from "./storage";

/** A group message as the client shows it. Own messages carry `status`; `seq` is the position in the group's log. */
export interface GroupChatMessage extends ShownMessage {
  group: string;
  /** Empty for system messages (`event`). */
  text: string;
  sentAt: number;
  /** A system message: someone joined, left, renamed the group... */
  event?: GroupEvent;
  /** Members the group could not reach for this message after every retry. */
  unreachable?: string[];
}

/** One group chat: its membership, the group-wide receipt watermarks and the messages held, by seq. */
export interface GroupChat {
  group: string;
  name: string;
  role: GroupRole;
  /** False once I left or was removed. */
  active: boolean;
  /** Every member has received the log up to this seq. */
  delivered: number;
  /** Every member has read the log up to this seq. */
  read: number;
  /** I have read up to this seq (on any of my devices: `group.page` carries it). */
  readByMe: number;
  /** The newest seq the group's log had when last heard of. */
  head: number;
  /** Every seq up to this one is held (the group sync cursor); undefined before the first sync. */
  cursor: number | undefined;
  /** Whether older messages than the first held exist (unknown until a page said). */
  older: boolean | undefined;
  /** Members and roles, once `group.info` (or a change answered with it) arrived. */
  info?: GroupInfo;
  messages: GroupChatMessage[];
}

/**
 * The client's picture of its groups: memberships, messages ordered by seq
 * (pending ones last) and ticks from the group-wide watermarks. Like
 * `ChatModel`, every change is an upsert: a message seen twice appears once.
 */
export class GroupModel {
  readonly #groups = new Map<string, GroupChat>();
  readonly #held = new MessageIndex<GroupChatMessage>();

  /** The signed-in user, once known. */
  get me(): string | undefined {
    return this.#held.me;
  }

  setMe(user: string): void {
    this.#held.setMe(user);
  }

  group(id: string): GroupChat | undefined {
    return this.#groups.get(id);
  }

  /** Groups with the most recent message first. */
  groups(): GroupChat[] {
    return [...this.#groups.values()].sort((a, b) => lastActivity(b) - lastActivity(a));
  }

  /** Others' messages (not system messages) after my read watermark. */
  unread(id: string): number {
    const group = this.#groups.get(id);
    return group ? group.messages.filter((m) => !m.mine && !m.event && (m.seq ?? 0) > group.readByMe).length : 0;
  }

  /** The newest seq held. */
  lastSeq(id: string): number {
    const group = this.#groups.get(id);
    let last = group?.cursor ?? 0;
    for (const m of group?.messages ?? []) if (m.seq !== undefined && m.seq > last) last = m.seq;
    return last;
  }

  membership(m: GroupMembership): GroupChat {
    const group = this.#groupOf(m.group);
    Object.assign(group, { name: m.name, role: m.role, active: m.active });
    return group;
  }

  setInfo(info: GroupInfo): GroupChat {
    const group = this.#groupOf(info.group);
    group.info = info;
    group.name = info.name;
    group.head = Math.max(group.head, info.head);
    const me = info.members.find((m) => m.user === this.me);
    group.active = me !== undefined;
    if (me) group.role = me.role;
    return group;
  }

  /** Inserts or updates a message from the server; returns it and whether it was new. */
  upsert(message: GroupMessage): { message: GroupChatMessage; added: boolean } {
    const group = this.#groupOf(message.group);
    const mine = message.from === this.me && message.event === undefined;
    const known = this.#held.find(message.id, message.clientId, mine);
    const entry: GroupChatMessage = known ?? { clientId: message.clientId, group: message.group, from: message.from, mine, text: message.text, sentAt: message.sentAt };
    const placed = entry.seq !== undefined;
    Object.assign(entry, { id: message.id, seq: message.seq, sentAt: message.sentAt });
    if (message.event) entry.event = message.event;
    if (!placed) {
      if (known) removeFrom(group.messages, known);
      insertOrdered(group.messages, entry, (m) => m.seq);
    }
    this.#held.add(entry);
    group.head = Math.max(group.head, message.seq);
    if (mine) {
      entry.status = tickFrom(entry, group);
      // Writing in a group means having read it up to there.
      group.readByMe = Math.max(group.readByMe, message.seq);
    }
    this.#advance(group);
    return { message: entry, added: known === undefined };
  }

  addPending(pending: PendingMessage): GroupChatMessage {
    const known = this.#held.ownByClientId(pending.clientId);
    if (known) return known;
    const entry: GroupChatMessage = { clientId: pending.clientId, group: pending.to, from: this.me ?? "", mine: true, text: pending.text, sentAt: pending.createdAt, status: "pending" };
    this.#groupOf(pending.to).messages.push(entry);
    this.#held.add(entry);
    return entry;
  }

  acknowledge(ack: GroupSentFrame, text: string): GroupChatMessage {
    return this.upsert({ id: ack.id, group: ack.group, seq: ack.seq, from: this.me ?? "", clientId: ack.clientId, text, sentAt: ack.sentAt }).message;
  }

  /** A page from `group.sync` or `group.history`. */
  applyPage(page: GroupPageFrame): GroupChat {
    const group = this.#groupOf(page.group);
    group.head = Math.max(group.head, page.head);
    for (const message of page.messages) this.upsert(message);
    this.applyReceipt(page.group, page.delivered, page.read);
    // What I read on another device counts here too (a new device starts with the right unread count).
    group.readByMe = Math.max(group.readByMe, page.readByMe);
    return group;
  }

  /** The cursor reached `seq` (a sync page said everything up to it is held). */
  advanceCursor(id: string, seq: number): void {
    const group = this.#groupOf(id);
    group.cursor = Math.max(group.cursor ?? 0, seq);
    this.#advance(group);
  }

  setOlder(id: string, older: boolean): void {
    this.#groupOf(id).older = older;
  }

  applyReceipt(id: string, delivered: number, read: number): GroupChat {
    const group = this.#groupOf(id);
    group.read = Math.max(group.read, read);
    group.delivered = Math.max(group.delivered, delivered, group.read);
    for (const m of group.messages) if (m.mine) m.status = tickFrom(m, group);
    return group;
  }

  markRead(id: string, upto: number): void {
    const group = this.#groupOf(id);
    group.readByMe = Math.max(group.readByMe, upto);
  }

  /** Some members could not be reached for one of my messages. */
  fail(report: Omit<GroupFailedFrame, "type">): GroupChatMessage | undefined {
    const entry = this.#held.find(report.id, report.clientId, true);
    if (!entry) return undefined;
    entry.unreachable = [...new Set([...(entry.unreachable ?? []), ...report.members])];
    return entry;
  }

  /** The server refused an own message: it was never stored. */
  reject(clientId: string, code: FrameErrorCode): GroupChatMessage | undefined {
    return this.#held.reject(clientId, code);
  }

  /** Drops a failed message from view (it is being sent again as a new one). */
  discard(clientId: string): void {
    const entry = this.#held.discard(clientId);
    if (entry) removeFrom(this.#groupOf(entry.group).messages, entry);
  }

  clear(): void {
    this.#groups.clear();
    this.#held.clear();
  }

  #groupOf(id: string): GroupChat {
    let group = this.#groups.get(id);
    if (!group) {
      group = { group: id, name: id, role: "member", active: true, delivered: 0, read: 0, readByMe: 0, head: 0, cursor: undefined, older: undefined, messages: [] };
      this.#groups.set(id, group);
    }
    return group;
  }

  /** Moves the cursor over messages held contiguously above it. */
  #advance(group: GroupChat): void {
    if (group.cursor === undefined) return;
    const held = new Set(group.messages.map((m) => m.seq));
    while (held.has(group.cursor + 1)) group.cursor++;
  }
}

function lastActivity(group: GroupChat): number {
  return group.messages.at(-1)?.sentAt ?? group.info?.createdAt ?? 0;
}
