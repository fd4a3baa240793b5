import type { GroupInfo, GroupMsgInfoFrame, GroupPageFrame, GroupServerFrame, GroupSentFrame } from "../protocol";
import { EdgechatClosedError } from "./errors";
import { GroupModel, type GroupChat, type GroupChatMessage } from "./group-model";
import { randomId } from "./ids";
import type { ClientLink } from "./link";
import type { Outbox } from "./outbox";
import type { RequestFrame } from "./requests";

/** Group frames answered with the group's info. */
export type GroupAction =
  | { type: "group.add"; group: string; members: string[] }
  | { type: "group.remove" | "group.promote" | "group.demote"; group: string; member: string }
  | { type: "group.leave" | "group.info"; group: string }
  | { type: "group.rename"; group: string; name: string };

/**
 * The client's groups: membership changes, group messages (live, and synced
 * from each group's own log by seq), the group-wide ticks of my messages and
 * the requests that manage a group.
 *
 * The user's log (sync) lists the groups but not their messages: after every
 * sync each group is synced from its cursor, the highest seq held with none
 * missing below. A live message that skips a seq starts such a sync.
 */
export class Groups {
  readonly model = new GroupModel();
  readonly #link: ClientLink;
  readonly #outbox: Outbox;
  readonly #syncing = new Set<string>();
  /** Groups asked to sync again while a sync ran. */
  readonly #again = new Set<string>();

  constructor(link: ClientLink, outbox: Outbox) {
    this.#link = link;
    this.#outbox = outbox;
  }

  async create(name: string, members: string[]): Promise<GroupInfo> {
    // A request unanswered when the socket drops is sent again on the next one: the clientId makes that one group.
    const frame = await this.#link.request({ type: "group.create", ref: this.#link.nextRef("g"), name, members, clientId: randomId() });
    const info = (frame as Extract<GroupServerFrame, { type: "group.created" }>).info;
    this.#applyInfo(info);
    return info;
  }

  /** add, remove, promote, demote, leave, rename or info: resolves with the group's info after it. */
  async act(action: GroupAction): Promise<GroupInfo> {
    const frame = await this.#link.request({ ...action, ref: this.#link.nextRef("g") } as RequestFrame);
    const info = (frame as Extract<GroupServerFrame, { type: "group.info" }>).info;
    this.#applyInfo(info);
    return info;
  }

  /** One page of the group's log older than seq `before` (the newest page without it). */
  async history(group: string, before?: number, limit?: number): Promise<GroupPageFrame> {
    const frame: RequestFrame = { type: "group.history", ref: this.#link.nextRef("gh"), group };
    if (before !== undefined) frame.before = before;
    if (limit !== undefined) frame.limit = limit;
    const page = (await this.#link.request(frame)) as GroupPageFrame;
    this.model.applyPage(page);
    this.model.setOlder(group, page.more);
    this.#delivered(group);
    this.#link.emit("change", group);
    return page;
  }

  /** Who has one of my messages delivered and read. */
  async messageInfo(group: string, seq: number): Promise<GroupMsgInfoFrame> {
    return (await this.#link.request({ type: "group.msginfo", ref: this.#link.nextRef("gi"), group, seq })) as GroupMsgInfoFrame;
  }

  markRead(group: string, upto: number = this.model.lastSeq(group)): void {
    if (upto < 1) return;
    this.model.markRead(group, upto);
    this.#link.receipt("group.read", group, upto);
    this.#link.emit("change", group);
  }

  /** After each sync of the user's log: catch up every group from its cursor. */
  syncAll(): void {
    for (const group of this.model.groups()) {
      // A group I left only needs its log up to my departure, once.
      if (group.active || group.cursor === undefined) void this.sync(group.group);
    }
  }

  /** Pages the group's log from the cursor (the newest page for a group never synced). */
  async sync(group: string): Promise<void> {
    if (this.#syncing.has(group)) {
      this.#again.add(group);
      return;
    }
    this.#syncing.add(group);
    try {
      let after = this.model.group(group)?.cursor;
      for (;;) {
        const frame: RequestFrame = { type: "group.sync", ref: this.#link.nextRef("gs"), group };
        if (after !== undefined) frame.after = after;
        const page = (await this.#link.request(frame)) as GroupPageFrame;
        this.#applySyncPage(page);
        if (after === undefined) {
          // The newest page: `more` says whether older messages exist.
          this.model.setOlder(group, page.more);
          this.model.advanceCursor(group, page.head);
          break;
        }
        after = page.more ? (page.messages.at(-1)?.seq ?? page.head) : page.head;
        this.model.advanceCursor(group, after);
        if (!page.more) break;
      }
      this.#delivered(group);
      this.#link.emit("change", group);
    } catch (err) {
      if (!(err instanceof EdgechatClosedError)) this.#link.emit("error", err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#syncing.delete(group);
      // Asked again meanwhile: once more, if a message still sits above a gap.
      const cursor = this.model.group(group)?.cursor;
      if (this.#again.delete(group) && cursor !== undefined && cursor < this.model.lastSeq(group)) void this.sync(group);
    }
  }

  /** A group frame the server pushed (answers with a ref are resolved by the client first). */
  onFrame(frame: GroupServerFrame): void {
    switch (frame.type) {
      case "group.msg":
        return this.#onMessage(frame.message);
      case "group.sent":
        return this.#onSent(frame);
      case "group.receipt":
        this.#link.emit("groupReceipt", this.model.applyReceipt(frame.group, frame.delivered, frame.read));
        return this.#link.emit("change", frame.group);
      case "group.failed": {
        const failed = this.model.fail(frame);
        if (failed) this.#emitFailed(failed);
        return;
      }
      case "group.changed": {
        const group = this.model.membership(frame.membership);
        this.#link.emit("group", group);
        this.#link.emit("change", group.group);
        if (group.cursor === undefined) void this.sync(group.group);
        return;
      }
      case "group.created":
      case "group.info":
        return this.#applyInfo(frame.info);
    }
  }

  /** The server refused a group message for good. */
  refused(clientId: string, code: Parameters<GroupModel["reject"]>[1]): void {
    const failed = this.model.reject(clientId, code);
    if (failed) this.#emitFailed(failed);
  }

  #onMessage(message: Parameters<GroupModel["upsert"]>[0]): void {
    const group = this.model.group(message.group);
    const gap = group?.cursor === undefined || message.seq > group.cursor + 1;
    const { message: applied, added } = this.model.upsert(message);
    if (added) this.#link.emit("groupMessage", applied);
    this.#link.emit("change", applied.group);
    if (gap) void this.sync(message.group);
    else this.#delivered(message.group);
  }

  #onSent(ack: GroupSentFrame): void {
    const pending = this.#outbox.get(ack.clientId);
    const known = this.model.group(ack.group)?.messages.find((m) => m.clientId === ack.clientId && m.mine);
    const text = pending?.text ?? known?.text;
    if (text === undefined) return;
    const message = this.model.acknowledge(ack, text);
    this.#outbox.acknowledged(ack.clientId, message);
    this.#link.emit("groupSent", message);
    this.#link.emit("change", ack.group);
  }

  #applySyncPage(page: GroupPageFrame): void {
    const before = new Set(this.model.group(page.group)?.messages.map((m) => m.id));
    this.model.applyPage(page);
    for (const message of page.messages) {
      if (before.has(message.id)) continue;
      const applied = this.model.group(page.group)?.messages.find((m) => m.id === message.id);
      if (applied) this.#link.emit("groupMessage", applied);
    }
  }

  #applyInfo(info: GroupInfo): void {
    const group: GroupChat = this.model.setInfo(info);
    this.#link.emit("change", group.group);
  }

  /** Everything up to the cursor has reached this device. */
  #delivered(group: string): void {
    const cursor = this.model.group(group)?.cursor;
    if (cursor !== undefined && cursor > 0) this.#link.receipt("group.delivered", group, cursor);
  }

  #emitFailed(message: GroupChatMessage): void {
    this.#link.emit("groupFailed", message);
    this.#link.emit("change", message.group);
  }
}
