import { DurableObject } from "cloudflare:workers";
import { intVar } from "../config";
import type { Env } from "../env";
import { log } from "../internal";
import type { Visibility } from "../protocol";
import { armAlarmFor } from "./lib/alarm";
import { forEachLimited } from "./lib/concurrency";
import { costs } from "./lib/metrics";
import { migrate } from "./lib/migrations";
import { Sql } from "./lib/sql";

export const DEFAULT_ONLINE_MS = 15_000;
export const DEFAULT_PRESENCE_SHARDS = 16;
export const DEFAULT_FLUSH_MS = 1_000;

/** What a shard knows of one user. */
export interface PresenceRecord {
  user: string;
  online: boolean;
  lastSeen: number | null;
  visibility: Visibility;
}

/** A user's object reporting on its user. */
export interface PresenceReport {
  /** The user did something at this time. */
  activeAt?: number;
  /** The user's last device went away; lastSeen is their last activity, if known. */
  offline?: { lastSeen?: number };
  visibility?: Visibility;
}

const MIGRATIONS = [
  `
  CREATE TABLE presence (
    user       TEXT PRIMARY KEY,
    last_seen  INTEGER,
    online     INTEGER NOT NULL DEFAULT 0,
    visibility TEXT NOT NULL DEFAULT 'everyone'
  ) WITHOUT ROWID;
  CREATE INDEX presence_online_by_last_seen ON presence (last_seen) WHERE online = 1;
  -- Whose object wants to hear when a user comes online or goes away.
  CREATE TABLE subscriptions (
    watched    TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    PRIMARY KEY (watched, subscriber)
  ) WITHOUT ROWID;
  `,
];

type Row = { user: string; last_seen: number | null; online: number; visibility: Visibility };

/**
 * One presence shard: last-seen timestamps and presence subscriptions for
 * the users hashed to it (lib/shard.ts). Users' objects report activity at
 * most once per write interval, so a busy user costs a write every few
 * seconds, not one per frame. The shard's alarm turns "online" into
 * "last seen" when activity stops, and pushes every change to subscribers.
 *
 * Reports are written behind: held in memory and written together by one
 * flush `PRESENCE_FLUSH_MS` later, so a shard pays one SQLite commit per
 * flush, not one per report, and activity never waits for a write. Reads
 * and pushes use the held rows; a restart loses them (docs/guarantees.md).
 * Only a change of visibility is written at once.
 */
export class PresenceObject extends DurableObject<Env> {
  readonly #db: Sql;
  readonly #onlineMs: number;
  readonly #flushMs: number;
  /** Reported but not yet written, by user: newer than their stored row. */
  readonly #pending = new Map<string, PresenceRecord>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#db = new Sql(ctx.storage.sql);
    migrate(ctx.storage, this.#db, MIGRATIONS);
    this.#onlineMs = intVar(env.PRESENCE_ONLINE_MS, DEFAULT_ONLINE_MS);
    this.#flushMs = intVar(env.PRESENCE_FLUSH_MS, DEFAULT_FLUSH_MS);
  }

  async report(user: string, report: PresenceReport): Promise<void> {
    const before = this.#record(user);
    let lastSeen = before.lastSeen;
    let online = before.online;
    if (report.activeAt !== undefined) {
      lastSeen = Math.max(lastSeen ?? 0, report.activeAt);
      online = true;
    }
    if (report.offline) {
      online = false;
      if (report.offline.lastSeen !== undefined) lastSeen = Math.max(lastSeen ?? 0, report.offline.lastSeen);
    }
    const visibility = report.visibility ?? before.visibility;
    const after: PresenceRecord = { user, online, lastSeen, visibility };
    this.#pending.set(user, after);
    // A privacy setting is confirmed to the user once this returns (user-signals.ts),
    // so it must survive a restart; it is rare, so writing it at once costs little.
    if (visibility !== before.visibility) await this.#flush();
    else this.#flushSoon();
    if (before.online !== online || before.visibility !== visibility) await this.#publish(after);
  }

  async subscribe(watched: string, subscriber: string): Promise<PresenceRecord> {
    this.#db.run`INSERT OR IGNORE INTO subscriptions (watched, subscriber) VALUES (${watched}, ${subscriber})`;
    return this.#record(watched);
  }

  async unsubscribe(watched: string, subscriber: string): Promise<void> {
    this.#db.run`DELETE FROM subscriptions WHERE watched = ${watched} AND subscriber = ${subscriber}`;
  }

  async query(users: string[]): Promise<PresenceRecord[]> {
    return users.map((u) => this.#record(u));
  }

  /** Users whose last activity is older than the threshold are no longer online. */
  override async alarm(): Promise<void> {
    costs.alarmRuns++;
    // Expiry must judge the newest activity, and the re-arm below covers the rows written here.
    this.#writePending();
    const cutoff = Date.now() - this.#onlineMs;
    const expired = this.#db.all<Row>`
      UPDATE presence SET online = 0 WHERE online = 1 AND last_seen <= ${cutoff} RETURNING *`;
    await forEachLimited(expired, 16, (row) => this.#publish(toRecord(row)));
    await this.#armAlarm();
  }

  /** One flush for every report of the next PRESENCE_FLUSH_MS. */
  #flushSoon(): void {
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush().catch((err) => log("presence_flush_failed", { error: String(err) }));
    }, this.#flushMs);
  }

  /** Writes every held report, then arms the expiry alarm once for them all. */
  async #flush(): Promise<void> {
    if (this.#writePending()) await this.#armAlarm();
  }

  /** The held rows, written in this one event: one commit however many users reported. */
  #writePending(): boolean {
    if (this.#pending.size === 0) return false;
    for (const { user, lastSeen, online, visibility } of this.#pending.values()) {
      this.#db.run`
        INSERT INTO presence (user, last_seen, online, visibility) VALUES (${user}, ${lastSeen}, ${online ? 1 : 0}, ${visibility})
        ON CONFLICT (user) DO UPDATE SET last_seen = excluded.last_seen, online = excluded.online, visibility = excluded.visibility`;
    }
    this.#pending.clear();
    return true;
  }

  #record(user: string): PresenceRecord {
    const known = this.#pending.get(user) ?? this.#stored(user);
    if (!known) return { user, online: false, lastSeen: null, visibility: "everyone" };
    const record = { ...known };
    // Between the threshold passing and the alarm running, answer truthfully.
    if (record.online && (record.lastSeen ?? 0) <= Date.now() - this.#onlineMs) record.online = false;
    return record;
  }

  #stored(user: string): PresenceRecord | undefined {
    const row = this.#db.one<Row>`SELECT * FROM presence WHERE user = ${user}`;
    return row && toRecord(row);
  }

  async #publish(record: PresenceRecord): Promise<void> {
    const subscribers = this.#db.all<{ subscriber: string }>`SELECT subscriber FROM subscriptions WHERE watched = ${record.user}`;
    await forEachLimited(subscribers, 16, async ({ subscriber }) => {
      try {
        costs.rpcCalls++;
        await this.env.USER.getByName(subscriber).presenceChanged(record);
      } catch (err) {
        // Presence is the first thing to give up under trouble; the next change or query corrects it.
        log("presence_push_failed", { user: record.user, subscriber, error: String(err) });
      }
    });
  }

  async #armAlarm(): Promise<void> {
    const oldest = this.#db.one<{ t: number | null }>`SELECT MIN(last_seen) AS t FROM presence WHERE online = 1`?.t;
    if (oldest === null || oldest === undefined) return;
    await armAlarmFor(this.ctx.storage, oldest + this.#onlineMs + 1);
  }
}

function toRecord(row: Row): PresenceRecord {
  return { user: row.user, online: row.online === 1, lastSeen: row.last_seen, visibility: row.visibility };
}
