import type { RetryPolicy } from "../config";
import { log } from "../internal";
import type { GroupMembership, GroupMessage } from "../protocol";
import { backoffDelay } from "./lib/backoff";
import { Slots } from "./lib/slots";
import { visibleTo } from "./group-rules";
import type { GroupStore, QueueRow } from "./group-store";

/**
 * Lane calls out at once during fan-out (a lane's first call may go past it):
 * 1,024 members is not 1,024 sequential awaits, and a lane waiting for a
 * slot gathers more messages into its next call.
 */
export const FANOUT_CONCURRENCY = 64;
/** Log entries dispatched together when they pile up (after a restart, say). */
const FANOUT_BATCH = 50;
/** Messages re-sent to a lagging member in one call. */
export const CATCH_UP_BATCH = 200;

/** What a member's object is told: messages to show and/or its membership. */
export interface GroupDelivery {
  membership?: GroupMembership;
  messages: GroupMessage[];
}

/** What the fan-out needs from the group object around it. */
export interface FanoutHost {
  /** The one call to a member's object (`groupDelivery` on their user object). */
  deliver(user: string, group: string, delivery: GroupDelivery): Promise<void>;
  /** Sets the alarm at the earliest due queue row (after a failure queued one). */
  armAlarm(): Promise<void>;
  /** Schedules the flush that writes how far the fan-out got (`progress`). */
  flushSoon(): void;
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

/**
 * How a group's log entries reach its members' objects. A member who is
 * keeping up gets each entry through their lane, straight away; a member
 * who is behind (a call failed, or membership news is waiting) gets it
 * through their durable queue row in the store, drained in order, with
 * retries counted there. The two never overlap for one member: a queue
 * waits for the lane's call in flight, and a lane hands over to the queue
 * as soon as the member has a row.
 *
 * Lanes live in memory: what one had not delivered when the instance goes
 * is found again through the store's `fanout` rows (see `progress`).
 */
export class GroupFanout {
  readonly #store: GroupStore;
  readonly #retry: RetryPolicy;
  readonly #host: FanoutHost;
  /** Log entries up to this seq were handed to lanes or queues (this instance). */
  #dispatched = 0;
  readonly #lanes = new Map<string, Lane>();
  readonly #calls = new Slots(FANOUT_CONCURRENCY);
  readonly #draining = new Map<string, Promise<void>>();

  constructor(store: GroupStore, retry: RetryPolicy, host: FanoutHost) {
    this.#store = store;
    this.#retry = retry;
    this.#host = host;
  }

  /** Whether a member's call is still out (the instance must not be forgotten before it settles). */
  get inFlight(): boolean {
    return this.#lanes.size > 0;
  }

  /** Done up to where every lane has delivered: past it, each member got the entry or has it queued. */
  progress(): number {
    let done = this.#dispatched;
    for (const lane of this.#lanes.values()) done = Math.min(done, lane.sent);
    return done;
  }

  /**
   * Hands every log entry not yet dispatched to each current member: through
   * their lane straight to their object, or through their retry queue if they
   * are behind. Nothing here waits for a member's object.
   */
  dispatch(): void {
    const group = this.#store.meta()?.id;
    if (!group) return;
    for (let seqs = this.#store.pendingFanout(this.#dispatched, FANOUT_BATCH); seqs.length > 0; seqs = this.#store.pendingFanout(this.#dispatched, FANOUT_BATCH)) {
      const after = seqs[0]! - 1;
      const upto = seqs[seqs.length - 1]!;
      const messages = this.#store.between(after, upto, FANOUT_BATCH);
      const queued = this.#store.queuedUsers();
      const now = Date.now();
      for (const member of this.#store.fanoutTargets()) {
        // Membership news owed to a member goes with this batch, at once: it
        // is all their object needs to show the group, and this call is what
        // finds out whether it answers again.
        const due = queued.get(member.user) ?? (member.membership_retry_at ? now : undefined);
        if (due !== undefined) {
          // A member already behind gets this batch through its queue, in order.
          this.#store.enqueueMember(member.user, after, upto, false, now);
          // A queue that is not waiting out a backoff is caught up now.
          if (due <= now) void this.drain(member.user);
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
    this.#host.flushSoon();
  }

  /**
   * Catches one member's object up from their queue row, one drain per
   * member at a time. Resolves with the row if it ran out of attempts (only
   * for the caller that started the drain: it reports the failure).
   */
  drain(user: string): Promise<QueueRow | undefined> {
    const running = this.#draining.get(user);
    if (running) return running.then(() => undefined);
    const promise = this.#drainLoop(user).finally(() => this.#draining.delete(user));
    this.#draining.set(user, promise.then(() => undefined));
    return promise;
  }

  #openLane(group: string, user: string, after: number, upto: number, first: GroupMessage[]): void {
    const lane: Lane = { sent: after, target: upto, done: Promise.resolve() };
    this.#lanes.set(user, lane);
    lane.done = this.#runLane(group, user, lane, first)
      .catch((err) => log("group_lane_failed", { group, member: user, error: String(err) }))
      .finally(() => {
        this.#lanes.delete(user);
        // The fan-out may be done further now: its rows go with the next flush.
        this.#host.flushSoon();
      });
  }

  /** Pushes what a member is owed, one call at a time, until nothing is. */
  async #runLane(group: string, user: string, lane: Lane, first: GroupMessage[]): Promise<void> {
    let upto = lane.target;
    let messages: GroupMessage[] | undefined = first;
    for (let opening = true; ; opening = false) {
      const call = () => {
        // What was dispatched while this lane waited (for a slot, or its last call) goes in this call too.
        if (messages === undefined || lane.target > upto) [upto, messages] = this.#owed(user, lane);
        return messages.length > 0 ? this.#host.deliver(user, group, { messages }) : Promise.resolve();
      };
      try {
        // A lane's first call goes at once, so one message reaches every member
        // without waiting for slots; later calls wait for one, which under load
        // lets a lane gather more messages into each call.
        await (opening ? this.#calls.runNow(call) : this.#calls.run(call));
      } catch (err) {
        log("group_fanout_failed", { group, member: user, error: String(err) });
        // The failed call was the first attempt; what was owed meanwhile waits behind it.
        this.#store.enqueueMember(user, lane.sent, lane.target, false, Date.now() + backoffDelay(1, this.#retry), 1);
        await this.#host.armAlarm();
        return;
      }
      lane.sent = upto;
      if (lane.target <= upto) return;
      messages = undefined;
      if (this.#store.queued(user)) {
        // Membership news queued meanwhile: the queue delivers the rest, after this call, in order.
        this.#store.enqueueMember(user, lane.sent, lane.target, false, Date.now());
        void this.drain(user);
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
        await this.#host.deliver(user, meta.id, delivery);
        this.#store.memberDone(user, sentUpto, row.membership);
      } catch (err) {
        log("group_member_retry_failed", { group: meta.id, member: user, attempts: row.attempts + 1, error: String(err) });
        const exhausted = this.#store.memberFailed(user, this.#retry, Date.now());
        await this.#host.armAlarm();
        return exhausted;
      }
    }
    return undefined;
  }
}
