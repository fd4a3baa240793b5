import { DurableObject } from "cloudflare:workers";
import { intVar, retryPolicyFrom, type RetryPolicy } from "../config";
import type { Env } from "../env";
import { log } from "../internal";
import type { FrameErrorCode, GroupEvent, GroupInfo, GroupMessage, GroupMsgInfoFrame } from "../protocol";
import { AlarmClock } from "./lib/alarm";
import { accountStub, userStub } from "./lib/stubs";
import { forEachLimited } from "./lib/concurrency";
import { costs } from "./lib/metrics";
import { CATCH_UP_BATCH, FANOUT_CONCURRENCY, GroupFanout } from "./group-fanout";
import { mayAct, roleAfter, successorAdmin, type GroupAction } from "./group-rules";
import { GroupStore, type MemberRow, type QueueRow } from "./group-store";

export type { GroupDelivery } from "./group-fanout";

export const DEFAULT_GROUP_CAP = 1024;
/** If the object is evicted mid fan-out, the alarm picks it up after this. */
const FANOUT_SAFETY_MS = 5_000;
/**
 * How long acknowledgements (and clean-ups after work that succeeded) gather
 * in memory before one commit writes them all: every member acknowledges
 * every message, so a commit each would cost N commits per message.
 */
const FLUSH_AFTER_MS = 5;

export type GroupResult<T> = { ok: true; value: T } | { ok: false; code: FrameErrorCode; message?: string };

export interface GroupPage {
  messages: GroupMessage[];
  more: boolean;
  head: number;
  delivered: number;
  read: number;
  /** How far the asking member has read: every one of their devices starts its unread count here. */
  readByMe: number;
}

/**
 * The group service: one object per group. It owns the members and their
 * roles, the member cap, the group's log (the one stored copy of each body),
 * per-member receipt watermarks, and durable per-member retry queues for the
 * fan-out to members' objects. Every call names the acting user, which only
 * ever comes from that user's own object, and is authorised here.
 *
 * Per message its happy path costs the send's own commit and a share of one
 * flush: acknowledgements, the end of a fan-out and receipts that arrived
 * are written together (see acknowledge). Fan-out (group-fanout.ts) goes
 * through one lane per member, so a slow member object delays only itself.
 */
export class GroupObject extends DurableObject<Env> {
  readonly #store: GroupStore;
  readonly #retry: RetryPolicy;
  readonly #cap: number;
  readonly #fanout: GroupFanout;
  readonly #alarm: AlarmClock;
  readonly #receipting = new Map<string, Promise<void>>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new GroupStore(ctx.storage);
    this.#retry = retryPolicyFrom(env);
    this.#cap = intVar(env.GROUP_MEMBER_CAP, DEFAULT_GROUP_CAP);
    this.#alarm = new AlarmClock(ctx.storage);
    this.#fanout = new GroupFanout(this.#store, this.#retry, {
      deliver: (user, group, delivery) => userStub(env, user).groupDelivery(group, delivery),
      armAlarm: () => this.#armAlarm(),
      flushSoon: () => this.#flushSoon(),
    });
  }

  // ---- membership --------------------------------------------------------------------

  /**
   * Creates the group. Its id comes from the creator's object: derived from
   * the creator and their clientId when there is one, so a create resent
   * after a lost answer lands here again and gets the same group back.
   */
  async create(actor: string, id: string, name: string, invited: string[]): Promise<GroupResult<{ info: GroupInfo; duplicate: boolean }>> {
    const existing = this.#createdBefore(actor);
    if (existing) return existing;
    const members = [...new Set(invited)].filter((u) => u !== actor);
    if (members.length + 1 > this.#cap) return fail("group_full", `A group has at most ${this.#cap} members.`);
    const unknown = await this.#unknownUsers(members);
    if (unknown.length > 0) return fail("unknown_user", `No such users: ${unknown.join(", ")}.`);
    // The lookups awaited: the first of two concurrent sends of one create may have made the group meanwhile.
    const made = this.#createdBefore(actor);
    if (made) return made;
    const now = Date.now();
    this.#store.create(id, name, actor, now);
    this.#store.addMember(actor, "admin", 0, now);
    for (const user of members) this.#store.addMember(user, "member", 0, now);
    this.#store.appendEvent(actor, { kind: "created", by: actor, name }, now);
    if (members.length > 0) this.#store.appendEvent(actor, { kind: "added", by: actor, users: members }, now);
    await this.#tellMembership([actor, ...members], 0);
    return { ok: true, value: { info: this.#info(), duplicate: false } };
  }

  /** The answer to a create when the group exists: the group again for its creator's resend (while a member), a refusal otherwise. */
  #createdBefore(actor: string): GroupResult<{ info: GroupInfo; duplicate: boolean }> | undefined {
    const meta = this.#store.meta();
    if (!meta) return undefined;
    if (meta.createdBy !== actor) return fail("not_authorized", "That group already exists.");
    return this.#check(actor, "info") ?? { ok: true, value: { info: this.#info(), duplicate: true } };
  }

  async add(actor: string, users: string[]): Promise<GroupResult<GroupInfo>> {
    const denied = this.#check(actor, "add");
    if (denied) return denied;
    const fresh = [...new Set(users)].filter((u) => !this.#store.isCurrent(u));
    if (fresh.length === 0) return { ok: true, value: this.#info() };
    if (this.#store.memberCount() + fresh.length > this.#cap) return fail("group_full", `A group has at most ${this.#cap} members.`);
    const unknown = await this.#unknownUsers(fresh);
    if (unknown.length > 0) return fail("unknown_user", `No such users: ${unknown.join(", ")}.`);
    // The lookups awaited: check again what they may have changed.
    const again = this.#check(actor, "add");
    if (again) return again;
    const adding = fresh.filter((u) => !this.#store.isCurrent(u));
    if (this.#store.memberCount() + adding.length > this.#cap) return fail("group_full", `A group has at most ${this.#cap} members.`);
    const now = Date.now();
    const joinedSeq = this.#store.head;
    for (const user of adding) this.#store.addMember(user, "member", joinedSeq, now);
    if (adding.length > 0) this.#store.appendEvent(actor, { kind: "added", by: actor, users: adding }, now);
    await this.#tellMembership(adding, joinedSeq);
    return { ok: true, value: this.#info() };
  }

  async remove(actor: string, user: string): Promise<GroupResult<GroupInfo>> {
    if (user === actor) return this.leave(actor);
    const denied = this.#check(actor, "remove");
    if (denied) return denied;
    if (!this.#store.isCurrent(user)) return fail("not_in_group");
    await this.#depart(user, { kind: "removed", by: actor, user });
    return { ok: true, value: this.#info() };
  }

  async leave(actor: string): Promise<GroupResult<GroupInfo>> {
    const denied = this.#check(actor, "leave");
    if (denied) return denied;
    const heir = successorAdmin(this.#store.currentMembers(), actor);
    if (heir && this.#store.member(actor)?.role === "admin") {
      this.#store.setRole(heir, "admin");
      this.#store.appendEvent(actor, { kind: "promoted", by: actor, user: heir }, Date.now());
      await this.#tellMembership([heir], this.#store.head - 1);
    }
    await this.#depart(actor, { kind: "left", user: actor });
    return { ok: true, value: this.#info() };
  }

  async setRole(actor: string, user: string, action: "promote" | "demote"): Promise<GroupResult<GroupInfo>> {
    const denied = this.#check(actor, action);
    if (denied) return denied;
    const target = this.#store.member(user);
    if (!target || target.left_seq !== null) return fail("not_in_group");
    const role = roleAfter(action);
    if (target.role === role) return { ok: true, value: this.#info() };
    if (role === "member" && this.#store.adminCount() === 1) return fail("not_authorized", "A group keeps at least one admin.");
    this.#store.setRole(user, role);
    const event: GroupEvent = action === "promote" ? { kind: "promoted", by: actor, user } : { kind: "demoted", by: actor, user };
    this.#store.appendEvent(actor, event, Date.now());
    await this.#tellMembership([user], this.#store.head - 1);
    return { ok: true, value: this.#info() };
  }

  async rename(actor: string, name: string): Promise<GroupResult<GroupInfo>> {
    const denied = this.#check(actor, "rename");
    if (denied) return denied;
    // Already so named (a rename resent after a lost answer, or a no-op): nothing to log or tell.
    if (this.#store.meta()?.name === name) return { ok: true, value: this.#info() };
    this.#store.rename(name);
    this.#store.appendEvent(actor, { kind: "renamed", by: actor, name }, Date.now());
    await this.#tellMembership(this.#store.fanoutTargets().map((m) => m.user), this.#store.head - 1);
    return { ok: true, value: this.#info() };
  }

  async info(actor: string): Promise<GroupResult<GroupInfo>> {
    return this.#check(actor, "info") ?? { ok: true, value: this.#info() };
  }

  // ---- messages ------------------------------------------------------------------------

  /** Stores a member's message once (deduplicated on client id), then fans it out. */
  async send(actor: string, clientId: string, text: string): Promise<GroupResult<{ message: GroupMessage; duplicate: boolean }>> {
    const denied = this.#check(actor, "send");
    if (denied) return denied;
    const stored = this.#store.sentByClientId(actor, clientId);
    if (stored) return { ok: true, value: { message: stored, duplicate: true } };
    const message = this.#store.append(actor, clientId, text, Date.now());
    await this.#afterAppend();
    return { ok: true, value: { message, duplicate: false } };
  }

  /**
   * The message a member sent with this client id, or null: how a resend is
   * answered while the sender is over their send rate. Writes nothing.
   */
  async sentMessage(actor: string, clientId: string): Promise<GroupResult<GroupMessage | null>> {
    const denied = this.#check(actor, "send");
    if (denied) return denied;
    return { ok: true, value: this.#store.sentByClientId(actor, clientId) ?? null };
  }

  /** A page of the log after `after` (or the newest page), limited to what the member may see. */
  async sync(actor: string, after: number | undefined, limit: number): Promise<GroupResult<GroupPage>> {
    const reader = await this.#pageReader(actor);
    if (!reader.ok) return reader;
    const member = reader.value;
    const ceiling = member.left_seq ?? this.#store.head;
    let messages: GroupMessage[];
    let more: boolean;
    if (after === undefined) {
      messages = this.#store.before(member.joined_seq, ceiling + 1, limit + 1);
      more = messages.length > limit;
      if (more) messages = messages.slice(1);
    } else {
      messages = this.#store.between(Math.max(after, member.joined_seq), ceiling, limit + 1);
      more = messages.length > limit;
      if (more) messages = messages.slice(0, limit);
    }
    return { ok: true, value: { messages, more, head: ceiling, ...this.#store.announced(), readByMe: member.read } };
  }

  async history(actor: string, before: number | undefined, limit: number): Promise<GroupResult<GroupPage>> {
    const reader = await this.#pageReader(actor);
    if (!reader.ok) return reader;
    const member = reader.value;
    const ceiling = member.left_seq ?? this.#store.head;
    let messages = this.#store.before(member.joined_seq, Math.min(before ?? ceiling + 1, ceiling + 1), limit + 1);
    const more = messages.length > limit;
    if (more) messages = messages.slice(1);
    return { ok: true, value: { messages, more, head: ceiling, ...this.#store.announced(), readByMe: member.read } };
  }

  /**
   * The member (current or former) asking for a page: owed membership news
   * goes to their object now, and the page's watermarks count every move
   * accepted so far.
   */
  async #pageReader(actor: string): Promise<GroupResult<MemberRow>> {
    if (!this.#store.created) return fail("unknown_group");
    const member = this.#store.member(actor);
    if (!member) return fail("not_a_member");
    await this.#heardFrom(member);
    await this.#announceReceipts();
    return { ok: true, value: member };
  }

  /**
   * A member's device has received / read the log up to `upto`.
   *
   * Every member acknowledges every message, so a write (a commit) per call
   * would cost N commits per message. The move is kept in memory and the
   * call answered at once; a flush FLUSH_AFTER_MS later writes every move
   * gathered meanwhile in one commit and only then tells senders. So "ok"
   * here means accepted, not yet durable, and nothing depends on more: the
   * device gets no answer on success, and group.receipt, group.page
   * watermarks and group.msginfo are all answered after the moves they
   * count were written (sync, history and message info flush first). A
   * crash before the flush loses the move until that member acknowledges
   * again: a watermark covers everything before it, and devices acknowledge
   * each new message and every group.sync, so it comes late, never wrong.
   */
  async acknowledge(actor: string, kind: "delivered" | "read", upto: number): Promise<GroupResult<null>> {
    if (!this.#store.created) return fail("unknown_group");
    const acknowledger = this.#store.acknowledger(actor);
    if (!acknowledger) return fail("not_a_member");
    if (acknowledger.owed) await this.#heardFrom(acknowledger.owed);
    if (this.#store.acknowledge(actor, kind, upto, Date.now())) this.#flushSoon();
    return { ok: true, value: null };
  }

  /** Who has a message delivered and read, with times; only its sender may ask. */
  async messageInfo(actor: string, seq: number): Promise<GroupResult<GroupMsgInfoFrame["members"]>> {
    const denied = this.#check(actor, "msginfo");
    if (denied) return denied;
    const message = this.#store.message(seq);
    if (!message || message.event) return fail("bad_frame", "No message with that seq.");
    if (message.from !== actor) return fail("not_authorized", "Only the sender may see a message's info.");
    return { ok: true, value: this.#store.messageInfo(seq) };
  }

  /** A member is typing: pushed to the other members' objects, best effort, never stored. */
  async typing(actor: string, typing: boolean): Promise<void> {
    const group = this.#store.meta()?.id;
    if (!group || !this.#store.isCurrent(actor)) return;
    const others = this.#store.fanoutTargets().filter((m) => m.user !== actor);
    await forEachLimited(others, FANOUT_CONCURRENCY, (m) =>
      userStub(this.env, m.user)
        .typing({ from: actor, group, typing })
        .catch(() => undefined),
    );
  }

  // ---- fan-out and retries ---------------------------------------------------------------

  override async alarm(): Promise<void> {
    costs.alarmRuns++;
    this.#alarm.fired();
    // Only a created group sets alarms: otherwise there is nothing (not even tables) to look at.
    if (!this.#store.created) return;
    // Deferred writes first (work that finished is not due again), and any move they complete is announced.
    await this.#flush();
    const now = Date.now();
    this.#fanout.dispatch();
    for (const member of this.#store.owedMembershipDue(now, 1_000)) this.#queueOwedMembership(member);
    const exhausted: QueueRow[] = [];
    await forEachLimited(this.#store.dueMembers(now, 1_000), FANOUT_CONCURRENCY, async (user) => {
      const row = await this.#fanout.drain(user);
      if (row) exhausted.push(row);
    });
    await this.#reportFailures(exhausted);
    await forEachLimited(this.#store.dueReceipts(now, 1_000), FANOUT_CONCURRENCY, (user) => this.#sendReceipt(user));
    await this.#armAlarm();
    // A member's call still hangs: come back, so that if this instance is gone by then, the next one fans out again.
    if (this.#fanout.inFlight) await this.#alarm.atLatest(Date.now() + FANOUT_SAFETY_MS);
  }

  async #afterAppend(): Promise<void> {
    // The safety net for a fan-out a restart cuts off, in the same commit as
    // the entry. Under traffic it is already set soon enough, which costs nothing.
    await this.#alarm.atLatest(Date.now() + FANOUT_SAFETY_MS);
    this.#fanout.dispatch();
    await this.#announceReceipts();
  }

  /** Queues membership news for these users (and the log after `from`), then tries to deliver it now. */
  async #tellMembership(users: string[], from?: number): Promise<void> {
    const now = Date.now();
    for (const user of users) {
      const after = from ?? this.#store.member(user)?.joined_seq ?? 0;
      this.#store.enqueueMember(user, after, Math.max(after, this.#store.head), true, now + this.#retry.baseMs);
    }
    await this.#afterAppend();
    await this.#armAlarm();
    for (const user of users) void this.#fanout.drain(user);
  }

  /**
   * A call from a member's object shows it answers: membership news it is
   * owed goes now. This is how a former member whose object missed their
   * departure hears of it, since no push of the group reaches them any more.
   */
  async #heardFrom(member: MemberRow): Promise<void> {
    if (!member.membership_retry_at) return;
    this.#queueOwedMembership(member);
    await this.#armAlarm();
    void this.#fanout.drain(member.user);
  }

  /** Queues the membership news a member is owed, on its own (their messages are not held up by it). */
  #queueOwedMembership(member: MemberRow): void {
    const head = member.left_seq ?? this.#store.head;
    this.#store.enqueueMember(member.user, head, head, true, Date.now());
  }

  /** Removes a member after recording why in the log; they still see that last entry. */
  async #depart(user: string, event: GroupEvent): Promise<void> {
    const message = this.#store.appendEvent(event.kind === "left" ? user : event.by, event, Date.now());
    this.#store.removeMember(user, message.seq);
    await this.#tellMembership([user], message.seq - 1);
  }

  /** Tells each sender which members could not be reached for which of their messages. */
  async #reportFailures(rows: QueueRow[]): Promise<void> {
    const group = this.#store.meta()?.id;
    if (!group || rows.length === 0) return;
    const byMessage = new Map<number, { message: GroupMessage; members: string[] }>();
    for (const row of rows) {
      for (const message of this.#store.between(row.after_seq, row.upto_seq, CATCH_UP_BATCH)) {
        if (message.event || message.from === row.user) continue;
        const entry = byMessage.get(message.seq) ?? { message, members: [] };
        entry.members.push(row.user);
        byMessage.set(message.seq, entry);
      }
    }
    await forEachLimited([...byMessage.values()], FANOUT_CONCURRENCY, async ({ message, members }) => {
      try {
        await userStub(this.env, message.from).groupFailed({ group, seq: message.seq, id: message.id, clientId: message.clientId, members });
      } catch (err) {
        log("group_failure_report_failed", { group, seq: message.seq, error: String(err) });
      }
    });
  }

  /** Writes what was deferred in one go (one event, one commit), soon, once per burst. */
  #flushSoon(): void {
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush().catch((err) => log("group_flush_failed", { group: this.#store.meta()?.id, error: String(err) }));
    }, FLUSH_AFTER_MS);
  }

  /** Writes the deferred writes; the moves among them may complete a watermark: announced in the same event. */
  #flush(): Promise<void> {
    this.#store.fanoutDone(this.#fanout.progress());
    return this.#announceReceipts();
  }

  /** When the group-wide watermarks pass new messages, their senders hear of it once (pending moves written first). */
  async #announceReceipts(): Promise<void> {
    const aggregate = this.#store.aggregate();
    const announced = this.#store.announced();
    const delivered = Math.max(announced.delivered, aggregate.delivered);
    const read = Math.max(announced.read, aggregate.read);
    if (delivered === announced.delivered && read === announced.read) return;
    const senders = new Set([...this.#store.sendersBetween(announced.delivered, delivered), ...this.#store.sendersBetween(announced.read, read)]);
    this.#store.setAnnounced(delivered, read);
    const nextAt = Date.now() + this.#retry.baseMs;
    for (const sender of senders) this.#store.enqueueReceipt(sender, nextAt);
    await this.#armAlarm();
    for (const sender of senders) void this.#sendReceipt(sender);
  }

  #sendReceipt(user: string): Promise<void> {
    const running = this.#receipting.get(user);
    if (running) return running;
    const promise = (async () => {
      const group = this.#store.meta()?.id;
      if (!group) return;
      try {
        // Loop until what was sent is still the newest: watermarks that moved
        // during the call are sent again rather than lost.
        for (;;) {
          const { delivered, read } = this.#store.announced();
          await userStub(this.env, user).groupReceipt(group, delivered, read);
          const now = this.#store.announced();
          if (now.delivered === delivered && now.read === read) break;
        }
        this.#store.receiptDone(user);
        this.#flushSoon();
      } catch (err) {
        const kept = this.#store.receiptFailed(user, this.#retry, Date.now());
        log("group_receipt_failed", { group, user, dropped: !kept, error: String(err) });
        await this.#armAlarm();
      }
    })().finally(() => this.#receipting.delete(user));
    this.#receipting.set(user, promise);
    return promise;
  }

  #armAlarm(): Promise<void> {
    return this.#alarm.atLatest(this.#store.nextDueAt());
  }

  // ---- helpers -----------------------------------------------------------------------------


  #check(actor: string, action: GroupAction): GroupResult<never> | undefined {
    if (!this.#store.created) return fail("unknown_group");
    const verdict = mayAct(this.#store.member(actor), action);
    return verdict === "ok" ? undefined : fail(verdict);
  }

  #info(): GroupInfo {
    const meta = this.#store.meta()!;
    return {
      group: meta.id,
      name: meta.name,
      createdBy: meta.createdBy,
      createdAt: meta.createdAt,
      head: this.#store.head,
      cap: this.#cap,
      members: this.#store.toMembers(this.#store.currentMembers()),
    };
  }

  async #unknownUsers(users: string[]): Promise<string[]> {
    const unknown: string[] = [];
    await forEachLimited(users, 16, async (user) => {
      if (!(await accountStub(this.env, user).exists())) unknown.push(user);
    });
    return unknown.sort();
  }
}

function fail(code: FrameErrorCode, message?: string): { ok: false; code: FrameErrorCode; message?: string } {
  return message === undefined ? { ok: false, code } : { ok: false, code, message };
}
