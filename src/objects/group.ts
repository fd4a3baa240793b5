import { DurableObject } from "cloudflare:workers";
import { intVar, retryPolicyFrom, type RetryPolicy } from "../config";
import type { Env } from "../env";
import { log } from "../internal";
import type { FrameErrorCode, GroupEvent, GroupInfo, GroupMembership, GroupMessage, GroupMsgInfoFrame } from "../protocol";
import { backoffDelay } from "./lib/backoff";
import { armAlarmFor } from "./lib/alarm";
import { accountStub, userStub } from "./lib/stubs";
import { forEachLimited } from "./lib/concurrency";
import { Slots } from "./lib/slots";
import { costs } from "./lib/metrics";
import { mayAct, roleAfter, successorAdmin, visibleTo, type GroupAction } from "./group-rules";
import { GroupStore, type QueueRow } from "./group-store";

export const DEFAULT_GROUP_CAP = 1024;
/** Member objects called at once during fan-out: 1,024 members is not 1,024 sequential awaits. */
const FANOUT_CONCURRENCY = 64;
/** Log entries dispatched together when they pile up (after a restart, say). */
const FANOUT_BATCH = 50;
/** Messages re-sent to a lagging member in one call. */
const CATCH_UP_BATCH = 200;
/** If the object is evicted mid fan-out, the alarm picks it up after this. */
const FANOUT_SAFETY_MS = 5_000;
/**
 * How long acknowledgements (and clean-ups after work that succeeded) gather
 * in memory before one commit writes them all: every member acknowledges
 * every message, so a commit each would cost N commits per message.
 */
const FLUSH_AFTER_MS = 5;

export type GroupResult<T> = { ok: true; value: T } | { ok: false; code: FrameErrorCode; message?: string };

/** What a member's object is told: messages to show and/or its membership. */
export interface GroupDelivery {
  membership?: GroupMembership;
  messages: GroupMessage[];
}

/**
 * One member's direct pushes: one call at a time, so its object gets entries
 * in order, and a slow member keeps no one else waiting. Entries dispatched
 * while its call is out only raise `target`; the next call carries them all.
 */
interface Lane {
  /** The member's object has everything it may see up to this seq. */
  sent: number;
  /** It is owed everything up to this seq. */
  target: number;
  /** Settles once nothing is owed (delivered, or left to the member's queue). */
  done: Promise<void>;
}

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
 * are written together (see acknowledge). Fan-out goes through one lane per
 * member, so a slow member object delays only itself.
 */
export class GroupObject extends DurableObject<Env> {
  readonly #store: GroupStore;
  readonly #retry: RetryPolicy;
  readonly #cap: number;
  /** Log entries up to this seq were handed to lanes or queues (this instance). */
  #dispatched = 0;
  readonly #lanes = new Map<string, Lane>();
  readonly #calls = new Slots(FANOUT_CONCURRENCY);
  readonly #draining = new Map<string, Promise<void>>();
  readonly #receipting = new Map<string, Promise<void>>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new GroupStore(ctx.storage);
    this.#retry = retryPolicyFrom(env);
    this.#cap = intVar(env.GROUP_MEMBER_CAP, DEFAULT_GROUP_CAP);
  }

  // ---- membership --------------------------------------------------------------------

  async create(actor: string, id: string, name: string, invited: string[]): Promise<GroupResult<GroupInfo>> {
    if (this.#store.meta()) return fail("not_authorized", "That group already exists.");
    const members = [...new Set(invited)].filter((u) => u !== actor);
    if (members.length + 1 > this.#cap) return fail("group_full", `A group has at most ${this.#cap} members.`);
    const unknown = await this.#unknownUsers(members);
    if (unknown.length > 0) return fail("unknown_user", `No such users: ${unknown.join(", ")}.`);
    if (this.#store.meta()) return fail("not_authorized", "That group already exists.");
    const now = Date.now();
    this.#store.create(id, name, actor, now);
    this.#store.addMember(actor, "admin", 0, now);
    for (const user of members) this.#store.addMember(user, "member", 0, now);
    this.#store.appendEvent(actor, { kind: "created", by: actor, name }, now);
    if (members.length > 0) this.#store.appendEvent(actor, { kind: "added", by: actor, users: members }, now);
    await this.#tellMembership([actor, ...members], 0);
    return { ok: true, value: this.#info() };
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
    this.#store.rename(name);
    this.#store.appendEvent(actor, { kind: "renamed", by: actor, name }, Date.now());
    await this.#tellMembership(this.#store.currentMembers().map((m) => m.user), this.#store.head - 1);
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

  /** A page of the log after `after` (or the newest page), limited to what the member may see. */
  async sync(actor: string, after: number | undefined, limit: number): Promise<GroupResult<GroupPage>> {
    const member = this.#store.member(actor);
    if (!member) return fail("not_a_member");
    await this.#announceReceipts();
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
    const member = this.#store.member(actor);
    if (!member) return fail("not_a_member");
    await this.#announceReceipts();
    const ceiling = member.left_seq ?? this.#store.head;
    let messages = this.#store.before(member.joined_seq, Math.min(before ?? ceiling + 1, ceiling + 1), limit + 1);
    const more = messages.length > limit;
    if (more) messages = messages.slice(1);
    return { ok: true, value: { messages, more, head: ceiling, ...this.#store.announced(), readByMe: member.read } };
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
    if (!this.#store.member(actor)) return fail("not_a_member");
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
    const others = this.#store.currentMembers().filter((m) => m.user !== actor);
    await forEachLimited(others, FANOUT_CONCURRENCY, (m) =>
      userStub(this.env, m.user)
        .typing({ from: actor, group, typing })
        .catch(() => undefined),
    );
  }

  // ---- fan-out and retries ---------------------------------------------------------------

  override async alarm(): Promise<void> {
    costs.alarmRuns++;
    // Deferred writes first (work that finished is not due again), and any move they complete is announced.
    await this.#flush();
    const now = Date.now();
    this.#fanOut();
    const exhausted: QueueRow[] = [];
    await forEachLimited(this.#store.dueMembers(now, 1_000), FANOUT_CONCURRENCY, async (user) => {
      const row = await this.#drain(user);
      if (row) exhausted.push(row);
    });
    await this.#reportFailures(exhausted);
    await forEachLimited(this.#store.dueReceipts(now, 1_000), FANOUT_CONCURRENCY, (user) => this.#sendReceipt(user));
    await this.#armAlarm();
    // A member's call still hangs: come back, so that if this instance is gone by then, the next one fans out again.
    if (this.#lanes.size > 0) await armAlarmFor(this.ctx.storage, Date.now() + FANOUT_SAFETY_MS);
  }

  async #afterAppend(): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null) {
      costs.alarmsSet++;
      await this.ctx.storage.setAlarm(Date.now() + FANOUT_SAFETY_MS);
    }
    this.#fanOut();
    await this.#announceReceipts();
  }

  /**
   * Hands every log entry not yet dispatched to each current member: through
   * their lane straight to their object, or through their retry queue if they
   * are behind. Nothing here waits for a member's object.
   */
  #fanOut(): void {
    const group = this.#store.meta()?.id;
    if (!group) return;
    for (let seqs = this.#store.pendingFanout(this.#dispatched, FANOUT_BATCH); seqs.length > 0; seqs = this.#store.pendingFanout(this.#dispatched, FANOUT_BATCH)) {
      const after = seqs[0]! - 1;
      const upto = seqs[seqs.length - 1]!;
      const messages = this.#store.between(after, upto, FANOUT_BATCH);
      const queued = this.#store.queuedUsers();
      const now = Date.now();
      for (const member of this.#store.currentMembers()) {
        const due = queued.get(member.user);
        if (due !== undefined) {
          // A member already behind gets this batch through its queue, in order.
          this.#store.enqueueMember(member.user, after, upto, false, now);
          // A queue that is not waiting out a backoff is caught up now.
          if (due <= now) void this.#drain(member.user);
          continue;
        }
        const lane = this.#lanes.get(member.user);
        if (lane) lane.target = upto;
        else {
          const visible = visibleTo(member, messages);
          if (visible.length > 0) this.#openLane(group, member.user, after, upto, visible);
        }
      }
      this.#dispatched = upto;
    }
    this.#flushSoon();
  }

  #openLane(group: string, user: string, after: number, upto: number, first: GroupMessage[]): void {
    const lane: Lane = { sent: after, target: upto, done: Promise.resolve() };
    this.#lanes.set(user, lane);
    lane.done = this.#runLane(group, user, lane, first)
      .catch((err) => log("group_lane_failed", { group, member: user, error: String(err) }))
      .finally(() => {
        this.#lanes.delete(user);
        // The fan-out may be done further now: its rows go with the next flush.
        this.#flushSoon();
      });
  }

  /** Pushes what a member is owed, one call at a time, until nothing is. */
  async #runLane(group: string, user: string, lane: Lane, first: GroupMessage[]): Promise<void> {
    let upto = lane.target;
    let messages: GroupMessage[] | undefined = first;
    for (;;) {
      try {
        await this.#calls.run(() => {
          // What was dispatched while this lane waited (for a slot, or its last call) goes in this call too.
          if (messages === undefined || lane.target > upto) [upto, messages] = this.#owed(user, lane);
          return messages.length > 0 ? userStub(this.env, user).groupDelivery(group, { messages }) : Promise.resolve();
        });
      } catch (err) {
        log("group_fanout_failed", { group, member: user, error: String(err) });
        // The failed call was the first attempt; what was owed meanwhile waits behind it.
        this.#store.enqueueMember(user, lane.sent, lane.target, false, Date.now() + backoffDelay(1, this.#retry), 1);
        await this.#armAlarm();
        return;
      }
      lane.sent = upto;
      if (lane.target <= upto) return;
      messages = undefined;
      if (this.#store.queued(user)) {
        // Membership news queued meanwhile: the queue delivers the rest, after this call, in order.
        this.#store.enqueueMember(user, lane.sent, lane.target, false, Date.now());
        void this.#drain(user);
        return;
      }
    }
  }

  /** The next call of a lane: up to CATCH_UP_BATCH entries after what was sent, those the member may see. */
  #owed(user: string, lane: Lane): [number, GroupMessage[]] {
    const member = this.#store.member(user);
    const batch = this.#store.between(lane.sent, lane.target, CATCH_UP_BATCH);
    const upto = batch.length === CATCH_UP_BATCH ? batch[batch.length - 1]!.seq : lane.target;
    return [upto, member ? visibleTo(member, batch) : []];
  }

  /** Done up to where every lane has delivered: past it, each member got the entry or has it queued. */
  #fanoutProgress(): number {
    let done = this.#dispatched;
    for (const lane of this.#lanes.values()) done = Math.min(done, lane.sent);
    return done;
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
    for (const user of users) void this.#drain(user);
  }

  /** Removes a member after recording why in the log; they still see that last entry. */
  async #depart(user: string, event: GroupEvent): Promise<void> {
    const message = this.#store.appendEvent(event.kind === "left" ? user : event.by, event, Date.now());
    this.#store.removeMember(user, message.seq);
    await this.#tellMembership([user], message.seq - 1);
  }

  #drain(user: string): Promise<QueueRow | undefined> {
    const running = this.#draining.get(user);
    if (running) return running.then(() => undefined);
    const promise = this.#drainLoop(user).finally(() => this.#draining.delete(user));
    this.#draining.set(user, promise.then(() => undefined));
    return promise;
  }

  /** Catches one member's object up from its queue row; returns the row if it ran out of attempts. */
  async #drainLoop(user: string): Promise<QueueRow | undefined> {
    const meta = this.#store.meta();
    if (!meta) return undefined;
    // A direct push still on its way goes first; the queue follows it, in order.
    await this.#lanes.get(user)?.done;
    for (let row = this.#store.queued(user); row; row = this.#store.queued(user)) {
      const member = this.#store.member(user);
      if (!member) return undefined;
      const ceiling = Math.min(row.upto_seq, member.left_seq ?? this.#store.head);
      const batch = this.#store.between(Math.max(row.after_seq, member.joined_seq), ceiling, CATCH_UP_BATCH);
      const sentUpto = batch.length === CATCH_UP_BATCH ? batch[batch.length - 1]!.seq : row.upto_seq;
      const delivery: GroupDelivery = { messages: visibleTo(member, batch) };
      if (row.membership) delivery.membership = { group: meta.id, name: meta.name, role: member.role, active: member.left_seq === null };
      try {
        await userStub(this.env, user).groupDelivery(meta.id, delivery);
        this.#store.memberDone(user, sentUpto, row.membership === 1);
      } catch (err) {
        log("group_member_retry_failed", { group: meta.id, member: user, attempts: row.attempts + 1, error: String(err) });
        const exhausted = this.#store.memberFailed(user, this.#retry, Date.now());
        await this.#armAlarm();
        return exhausted;
      }
    }
    return undefined;
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
    this.#store.fanoutDone(this.#fanoutProgress());
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
    return armAlarmFor(this.ctx.storage, this.#store.nextDueAt());
  }

  // ---- helpers -----------------------------------------------------------------------------


  #check(actor: string, action: GroupAction): GroupResult<never> | undefined {
    if (!this.#store.meta()) return fail("unknown_group");
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
