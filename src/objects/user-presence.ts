import type { Env } from "../env";
import { log } from "../internal";
import type { PresenceState } from "../protocol";
import { costs } from "./lib/metrics";
import { presenceShardName } from "./lib/shard";
import { attachmentOf, type SocketAttachment } from "./lib/sockets";
import type { PresenceRecord } from "./presence";
import type { UserStore } from "./user-store";
import { ActivityReporter } from "./activity-reporter";

/**
 * How long a due activity report waits before going to the shard. The first
 * frame after a wake is usually a message: reporting at once woke the shard
 * (and made it write) on the same thread, ahead of the message's own way to
 * the recipient, about 3 ms of the first message's 10 here (docs/performance.md).
 */
export const REPORT_DELAY_MS = 100;
/** A report that must reach the shard before the user's last one lapses is sent this much earlier. */
export const LAPSE_MARGIN_MS = 1_000;

/** Presence subscriptions one socket may hold, unless PRESENCE_MAX_SUBSCRIPTIONS says otherwise. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 256;

export interface PresenceConfig {
  shards: number;
  /** A user's last-seen time is written at most once per this interval (unless it would lapse). */
  writeIntervalMs: number;
  /** How long the shard shows a user online after a reported activity. */
  onlineMs: number;
  /** Presence subscriptions one socket may hold. */
  maxSubscriptions: number;
}

/**
 * The user object's side of presence: reports its user's activity to the
 * user's presence shard (throttled), and manages its devices' subscriptions
 * to other users' presence, applying both users' privacy settings.
 */
export class UserPresence {
  /** Set by the first activity: it needs the user's name. */
  #reporter: ActivityReporter | undefined;
  /** Whether a peer with "contacts" visibility counts me as a contact (asked once per wake-up). */
  readonly #contactOf = new Map<string, boolean>();

  constructor(
    private readonly env: Env,
    private readonly store: UserStore,
    private readonly config: PresenceConfig,
  ) {}

  #shard(user: string) {
    costs.rpcCalls++;
    return this.env.PRESENCE.getByName(presenceShardName(user, this.config.shards));
  }

  /**
   * A frame flagged as user activity arrived. Reports reach the shard at most
   * once per interval, yet always before the last one lapses (activity-reporter.ts).
   */
  activity(me: string, now: number): void {
    // The report carries the newest activity's own time, so waiting does not change what it says.
    this.#reporter ??= new ActivityReporter(
      { writeIntervalMs: this.config.writeIntervalMs, onlineMs: this.config.onlineMs, delayMs: REPORT_DELAY_MS, marginMs: LAPSE_MARGIN_MS },
      (activeAt) =>
        void this.#shard(me)
          .report(me, { activeAt, visibility: this.store.settings().lastSeen })
          .catch((err) => log("presence_report_failed", { user: me, error: String(err) })),
    );
    this.#reporter.activity(now);
  }

  /** The last device disconnected: last seen is the last activity, not the disconnect. */
  async lastDeviceGone(me: string): Promise<void> {
    // No activity since this object woke: nothing reported "online", and the
    // shard's alarm retires anything older, so a background socket costs no write.
    const lastSeen = this.#reporter?.lastActivity ?? 0;
    if (lastSeen === 0) return;
    // A report still waiting must not land after this one.
    this.#reporter!.reset();
    await this.#shard(me).report(me, { offline: { lastSeen } });
  }

  async visibilityChanged(me: string): Promise<void> {
    await this.#shard(me).report(me, { visibility: this.store.settings().lastSeen });
  }

  /**
   * Follows `users` from this socket; "too_many" (and nothing subscribed)
   * when that would take the socket past its cap, so a client learns it
   * rather than silently missing pushes.
   */
  async subscribe(me: string, ws: WebSocket, users: string[]): Promise<PresenceState[] | "too_many"> {
    const attachment = attachmentOf(ws)!;
    const subs = new Set([...(attachment.subs ?? []), ...users]);
    if (subs.size > this.config.maxSubscriptions) return "too_many";
    ws.serializeAttachment({ ...attachment, subs: [...subs] } satisfies SocketAttachment);
    const records = await Promise.all(users.map((u) => this.#shard(u).subscribe(u, me)));
    return Promise.all(records.map((r) => this.view(me, r)));
  }

  async unsubscribe(me: string, ws: WebSocket, users: string[], sockets: WebSocket[]): Promise<void> {
    const attachment = attachmentOf(ws)!;
    const remaining = (attachment.subs ?? []).filter((u) => !users.includes(u));
    ws.serializeAttachment({ ...attachment, subs: remaining } satisfies SocketAttachment);
    await this.#release(me, users, sockets.filter((s) => s !== ws));
  }

  /** A socket closed: drop the subscriptions no other socket of mine still holds. */
  async socketClosed(me: string, ws: WebSocket, sockets: WebSocket[]): Promise<void> {
    const users = attachmentOf(ws)?.subs ?? [];
    if (users.length > 0) await this.#release(me, users, sockets.filter((s) => s !== ws));
  }

  async query(me: string, users: string[]): Promise<PresenceState[]> {
    const records = await Promise.all(users.map(async (u) => (await this.#shard(u).query([u]))[0]!));
    return Promise.all(records.map((r) => this.view(me, r)));
  }

  /** Whether the last view my devices got of a user was hidden (to avoid leaking hidden comings and goings). */
  readonly lastHidden = new Map<string, boolean>();

  /** What I may see of someone's presence: their setting, and mine (hide yours, see no one's). */
  async view(me: string, record: PresenceRecord): Promise<PresenceState> {
    const hidden: PresenceState = { user: record.user, online: false, lastSeen: null, hidden: true };
    let view: PresenceState = { user: record.user, online: record.online, lastSeen: record.lastSeen, hidden: false };
    if (record.user !== me) {
      if (this.store.settings().lastSeen === "nobody" || record.visibility === "nobody") view = hidden;
      else if (record.visibility === "contacts" && !(await this.#isContactOf(me, record.user))) view = hidden;
    }
    this.lastHidden.set(record.user, view.hidden);
    return view;
  }

  async #isContactOf(me: string, user: string): Promise<boolean> {
    if (this.#contactOf.get(user)) return true;
    costs.rpcCalls++;
    const known = await this.env.USER.getByName(user).isContact(me);
    // Only "yes" is cached: a stranger who starts a chat must not stay refused.
    if (known) this.#contactOf.set(user, true);
    return known;
  }

  async #release(me: string, users: string[], others: WebSocket[]): Promise<void> {
    const stillHeld = new Set(others.flatMap((s) => attachmentOf(s)?.subs ?? []));
    await Promise.all(
      users.filter((u) => !stillHeld.has(u)).map((u) => this.#shard(u).unsubscribe(u, me).catch(() => undefined)),
    );
  }
}
