import { log } from "../internal";

export type GroupAckKind = "delivered" | "read";

/** Calls the group object with one member's coalesced watermark. */
export type SendGroupAck = (group: string, kind: GroupAckKind, upto: number) => Promise<void>;

/**
 * How long a member's acknowledgement waits for others to join it. Long
 * enough to keep the acknowledgements out of the group's fan-out while it is
 * still calling the other members (about 50 ms for 200 members here: with
 * 50 ms the calls landed in the middle of it and the last member got a message
 * 1.7x later), short enough that a group tick is not noticeably later.
 */
export const GROUP_ACK_DELAY_MS = 200;

interface Pending {
  delivered: number;
  read: number;
}

/**
 * One member's acknowledgements of group messages on their way to the group
 * objects. They are watermarks, so any number of them for one group becomes
 * one call: each device of a member in a busy group acknowledges every
 * message, and a call per acknowledgement would cost the group an event each.
 *
 * Kept in memory: an acknowledgement lost in a crash before its call only
 * delays a tick, and the device's next one (a watermark) covers it.
 */
export class GroupAcks {
  readonly #pending = new Map<string, Pending>();
  /** One call per group at a time; acknowledgements arriving meanwhile wait for the next. */
  readonly #flushing = new Map<string, Promise<void>>();

  constructor(
    private readonly send: SendGroupAck,
    private readonly delayMs: number = GROUP_ACK_DELAY_MS,
  ) {}

  add(group: string, kind: GroupAckKind, upto: number): void {
    const pending = this.#pending.get(group) ?? { delivered: 0, read: 0 };
    pending[kind] = Math.max(pending[kind], upto);
    this.#pending.set(group, pending);
    if (!this.#flushing.has(group)) this.#schedule(group);
  }

  #schedule(group: string): void {
    const run = (async () => {
      await scheduler.wait(this.delayMs);
      const pending = this.#pending.get(group);
      this.#pending.delete(group);
      if (pending) await this.#call(group, pending);
    })().finally(() => {
      this.#flushing.delete(group);
      // What arrived during the call goes out in the next one.
      if (this.#pending.has(group)) this.#schedule(group);
    });
    this.#flushing.set(group, run);
  }

  async #call(group: string, { delivered, read }: Pending): Promise<void> {
    try {
      // The group counts read as delivered too: one call when read covers both.
      if (read > 0) await this.send(group, "read", read);
      if (delivered > read) await this.send(group, "delivered", delivered);
    } catch (err) {
      log("group_ack_failed", { group, error: String(err) });
    }
  }
}
