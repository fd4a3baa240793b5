import type { RetryPolicy } from "../config";
import type { GroupEvent, GroupMember, GroupMessage, GroupMsgInfoFrame, GroupRole } from "../protocol";
import { attemptsExhausted, backoffDelay } from "./lib/backoff";
import { migrate } from "./lib/migrations";
import { Sql } from "./lib/sql";
import { GROUP_MIGRATIONS } from "./group-schema";

export type MemberRow = {
  user: string;
  role: GroupRole;
  joined_seq: number;
  joined_at: number;
  left_seq: number | null;
  delivered: number;
  read: number;
};

type MessageRow = { seq: number; id: string; sender: string; client_id: string; text: string; sent_at: number; event: string | null };

export type QueueRow = { user: string; after_seq: number; upto_seq: number; membership: number; attempts: number; next_at?: number };

/** How many watermark moves per member and kind are kept for message info times. */
const MARKS_KEPT = 64;

/**
 * One group's SQLite state: its members and roles, its log, receipt
 * watermarks, and the retry queues of its fan-out. Synchronous; the group
 * object decides when to call what.
 */
export class GroupStore {
  readonly #db: Sql;
  #group = "";
  #head: number;

  constructor(storage: DurableObjectStorage) {
    this.#db = new Sql(storage.sql);
    migrate(storage, this.#db, GROUP_MIGRATIONS);
    this.#head = this.#db.one<{ h: number | null }>`SELECT MAX(seq) AS h FROM messages`?.h ?? 0;
    this.#group = this.meta()?.id ?? "";
  }

  /** The newest seq in the log. */
  get head(): number {
    return this.#head;
  }

  // ---- the group itself ----------------------------------------------------------

  meta(): { id: string; name: string; createdBy: string; createdAt: number } | undefined {
    const rows = this.#db.all<{ key: string; value: string | number }>`SELECT key, value FROM meta`;
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (m.id === undefined) return undefined;
    return { id: String(m.id), name: String(m.name), createdBy: String(m.created_by), createdAt: Number(m.created_at) };
  }

  create(id: string, name: string, creator: string, now: number): void {
    this.#db.run`INSERT INTO meta (key, value) VALUES ('id', ${id}), ('name', ${name}), ('created_by', ${creator}), ('created_at', ${now})`;
    this.#group = id;
  }

  rename(name: string): void {
    this.#db.run`UPDATE meta SET value = ${name} WHERE key = 'name'`;
  }

  // ---- members ---------------------------------------------------------------------

  member(user: string): MemberRow | undefined {
    return this.#db.one<MemberRow>`SELECT * FROM members WHERE user = ${user}`;
  }

  isCurrent(user: string): boolean {
    return this.member(user)?.left_seq === null;
  }

  /** Current members, oldest first (at most the cap, so bounded). */
  currentMembers(): MemberRow[] {
    return this.#db.all<MemberRow>`SELECT * FROM members WHERE left_seq IS NULL ORDER BY joined_seq, user`;
  }

  memberCount(): number {
    return this.#db.one<{ n: number }>`SELECT COUNT(*) AS n FROM members WHERE left_seq IS NULL`!.n;
  }

  adminCount(): number {
    return this.#db.one<{ n: number }>`SELECT COUNT(*) AS n FROM members WHERE left_seq IS NULL AND role = 'admin'`!.n;
  }

  /** Adds (or re-adds) a member who will see the log after `joinedSeq`. */
  addMember(user: string, role: GroupRole, joinedSeq: number, now: number): void {
    this.#db.run`
      INSERT INTO members (user, role, joined_seq, joined_at, left_seq, delivered, read)
      VALUES (${user}, ${role}, ${joinedSeq}, ${now}, NULL, ${joinedSeq}, ${joinedSeq})
      ON CONFLICT (user) DO UPDATE SET role = excluded.role, joined_seq = excluded.joined_seq,
        joined_at = excluded.joined_at, left_seq = NULL, delivered = excluded.delivered, read = excluded.read`;
  }

  removeMember(user: string, leftSeq: number): void {
    this.#db.run`UPDATE members SET left_seq = ${leftSeq}, role = 'member' WHERE user = ${user}`;
  }

  setRole(user: string, role: GroupRole): void {
    this.#db.run`UPDATE members SET role = ${role} WHERE user = ${user}`;
  }

  toMembers(rows: MemberRow[]): GroupMember[] {
    return rows.map((r) => ({ user: r.user, role: r.role, joinedAt: r.joined_at }));
  }

  // ---- the log ------------------------------------------------------------------------

  /**
   * Appends a message and marks it for fan-out, in the same commit. Sending
   * implies the sender has read the group up to its own message.
   */
  append(sender: string, clientId: string, text: string, now: number, event?: GroupEvent): GroupMessage {
    const seq = ++this.#head;
    const id = crypto.randomUUID();
    this.#db.run`
      INSERT INTO messages (seq, id, sender, client_id, text, sent_at, event)
      VALUES (${seq}, ${id}, ${sender}, ${clientId}, ${text}, ${now}, ${event ? JSON.stringify(event) : null})`;
    this.#db.run`INSERT INTO fanout (seq) VALUES (${seq})`;
    this.#db.run`UPDATE members SET delivered = ${seq}, read = ${seq} WHERE user = ${sender} AND left_seq IS NULL`;
    return this.#toMessage({ seq, id, sender, client_id: clientId, text, sent_at: now, event: event ? JSON.stringify(event) : null });
  }

  /** A system message: ids are derived from the seq so they need no client id. */
  appendEvent(actor: string, event: GroupEvent, now: number): GroupMessage {
    return this.append(actor, `system-${this.#head + 1}`, "", now, event);
  }

  sentByClientId(sender: string, clientId: string): GroupMessage | undefined {
    const row = this.#db.one<MessageRow>`SELECT * FROM messages WHERE sender = ${sender} AND client_id = ${clientId}`;
    return row && this.#toMessage(row);
  }

  message(seq: number): GroupMessage | undefined {
    const row = this.#db.one<MessageRow>`SELECT * FROM messages WHERE seq = ${seq}`;
    return row && this.#toMessage(row);
  }

  /** Messages in (after, upto], oldest first, at most `limit`. */
  between(after: number, upto: number, limit: number): GroupMessage[] {
    return this.#db
      .all<MessageRow>`SELECT * FROM messages WHERE seq > ${after} AND seq <= ${upto} ORDER BY seq LIMIT ${limit}`
      .map((r) => this.#toMessage(r));
  }

  /** Messages in (floor, before), newest `limit` of them, returned oldest first. */
  before(floor: number, before: number, limit: number): GroupMessage[] {
    return this.#db
      .all<MessageRow>`SELECT * FROM messages WHERE seq > ${floor} AND seq < ${before} ORDER BY seq DESC LIMIT ${limit}`
      .reverse()
      .map((r) => this.#toMessage(r));
  }

  /** Distinct senders of ordinary messages in (after, upto]. */
  sendersBetween(after: number, upto: number): string[] {
    return this.#db
      .all<{ sender: string }>`SELECT DISTINCT sender FROM messages WHERE seq > ${after} AND seq <= ${upto} AND event IS NULL`
      .map((r) => r.sender);
  }

  #toMessage(row: MessageRow): GroupMessage {
    const message: GroupMessage = { id: row.id, group: this.#group, seq: row.seq, from: row.sender, clientId: row.client_id, text: row.text, sentAt: row.sent_at };
    if (row.event) message.event = JSON.parse(row.event) as GroupEvent;
    return message;
  }

  // ---- receipts ------------------------------------------------------------------------

  /** Moves a member's watermark forward (read implies delivered). True when it moved. */
  acknowledge(user: string, kind: "delivered" | "read", upto: number, now: number): boolean {
    const member = this.member(user);
    if (!member) return false;
    const ceiling = member.left_seq ?? this.#head;
    const capped = Math.min(upto, ceiling);
    const delivered = Math.max(member.delivered, capped);
    const read = kind === "read" ? Math.max(member.read, capped) : member.read;
    if (delivered === member.delivered && read === member.read) return false;
    this.#db.run`UPDATE members SET delivered = ${delivered}, read = ${read} WHERE user = ${user}`;
    if (delivered > member.delivered) this.#mark(user, "delivered", delivered, now);
    if (read > member.read) this.#mark(user, "read", read, now);
    return true;
  }

  #mark(user: string, kind: "delivered" | "read", upto: number, now: number): void {
    this.#db.run`INSERT OR IGNORE INTO receipt_marks (user, kind, upto, at) VALUES (${user}, ${kind}, ${upto}, ${now})`;
    this.#db.run`
      DELETE FROM receipt_marks WHERE user = ${user} AND kind = ${kind} AND upto < (
        SELECT upto FROM receipt_marks WHERE user = ${user} AND kind = ${kind}
        ORDER BY upto DESC LIMIT 1 OFFSET ${MARKS_KEPT - 1})`;
  }

  /** Every current member has received / read up to these seqs. */
  aggregate(): { delivered: number; read: number } {
    const row = this.#db.one<{ d: number | null; r: number | null }>`
      SELECT (SELECT MIN(delivered) FROM members WHERE left_seq IS NULL) AS d,
             (SELECT MIN(read) FROM members WHERE left_seq IS NULL) AS r`;
    return { delivered: row?.d ?? this.#head, read: row?.r ?? this.#head };
  }

  /** The aggregate last told to senders (never moves backwards). */
  announced(): { delivered: number; read: number } {
    const rows = this.#db.all<{ key: string; value: number }>`SELECT key, value FROM meta WHERE key IN ('announced_delivered', 'announced_read')`;
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    return { delivered: m.announced_delivered ?? 0, read: m.announced_read ?? 0 };
  }

  setAnnounced(delivered: number, read: number): void {
    this.#db.run`
      INSERT INTO meta (key, value) VALUES ('announced_delivered', ${delivered}), ('announced_read', ${read})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  }

  messageInfo(seq: number): GroupMsgInfoFrame["members"] {
    const message = this.#db.one<{ sender: string }>`SELECT sender FROM messages WHERE seq = ${seq}`;
    if (!message) return [];
    return this.#db
      .all<{ user: string; delivered: number; read: number; delivered_at: number | null; read_at: number | null }>`
        SELECT m.user, m.delivered, m.read,
          (SELECT MIN(at) FROM receipt_marks r WHERE r.user = m.user AND r.kind = 'delivered' AND r.upto >= ${seq}) AS delivered_at,
          (SELECT MIN(at) FROM receipt_marks r WHERE r.user = m.user AND r.kind = 'read' AND r.upto >= ${seq}) AS read_at
        FROM members m
        WHERE m.left_seq IS NULL AND m.joined_seq < ${seq} AND m.user != ${message.sender}
        ORDER BY m.user`
      .map((r) => ({
        user: r.user,
        delivered: r.delivered >= seq,
        deliveredAt: r.delivered >= seq ? r.delivered_at : null,
        read: r.read >= seq,
        readAt: r.read >= seq ? r.read_at : null,
      }));
  }

  // ---- fan-out and retry queues ----------------------------------------------------

  pendingFanout(limit: number): number[] {
    return this.#db.all<{ seq: number }>`SELECT seq FROM fanout ORDER BY seq LIMIT ${limit}`.map((r) => r.seq);
  }

  fanoutDone(upto: number): void {
    this.#db.run`DELETE FROM fanout WHERE seq <= ${upto}`;
  }

  queued(user: string): QueueRow | undefined {
    return this.#db.one<QueueRow>`SELECT user, after_seq, upto_seq, membership, attempts, next_at FROM member_queue WHERE user = ${user}`;
  }

  /** The member's object must still be told (after, upto] and/or its membership; merges with what is queued. */
  enqueueMember(user: string, after: number, upto: number, membership: boolean, nextAt: number, attempts = 0): void {
    this.#db.run`
      INSERT INTO member_queue (user, after_seq, upto_seq, membership, attempts, next_at)
      VALUES (${user}, ${after}, ${upto}, ${membership ? 1 : 0}, ${attempts}, ${nextAt})
      ON CONFLICT (user) DO UPDATE SET
        after_seq = MIN(after_seq, excluded.after_seq),
        upto_seq = MAX(upto_seq, excluded.upto_seq),
        membership = MAX(membership, excluded.membership)`;
  }

  /** The member's object has everything up to `upto`: drop the row unless more was queued meanwhile. */
  memberDone(user: string, upto: number, membership: boolean): void {
    this.#db.run`
      UPDATE member_queue SET after_seq = MAX(after_seq, ${upto}), membership = CASE WHEN ${membership ? 1 : 0} = 1 THEN 0 ELSE membership END
      WHERE user = ${user}`;
    this.#db.run`DELETE FROM member_queue WHERE user = ${user} AND after_seq >= upto_seq AND membership = 0`;
  }

  /** Counts a failed attempt; returns the row when it ran out of attempts (and was dropped). */
  memberFailed(user: string, policy: RetryPolicy, now: number): QueueRow | undefined {
    const row = this.#db.one<QueueRow>`
      UPDATE member_queue SET attempts = attempts + 1 WHERE user = ${user}
      RETURNING user, after_seq, upto_seq, membership, attempts`;
    if (!row) return undefined;
    if (attemptsExhausted(row.attempts, policy)) {
      if (row.membership === 1) {
        // Messages are given up (the member syncs them), but not membership
        // news: without it their object would not know the group at all.
        this.#db.run`
          UPDATE member_queue SET attempts = 0, after_seq = upto_seq, next_at = ${now + policy.maxMs} WHERE user = ${user}`;
      } else {
        this.#db.run`DELETE FROM member_queue WHERE user = ${user}`;
      }
      return row;
    }
    this.#db.run`UPDATE member_queue SET next_at = ${now + backoffDelay(row.attempts, policy)} WHERE user = ${user}`;
    return undefined;
  }

  dueMembers(now: number, limit: number): string[] {
    return this.#db.all<{ user: string }>`SELECT user FROM member_queue WHERE next_at <= ${now} ORDER BY next_at LIMIT ${limit}`.map((r) => r.user);
  }

  enqueueReceipt(user: string, nextAt: number): void {
    this.#db.run`INSERT INTO receipt_queue (user, next_at) VALUES (${user}, ${nextAt}) ON CONFLICT (user) DO NOTHING`;
  }

  receiptDone(user: string): void {
    this.#db.run`DELETE FROM receipt_queue WHERE user = ${user}`;
  }

  /** False when the receipt ran out of attempts and was dropped. */
  receiptFailed(user: string, policy: RetryPolicy, now: number): boolean {
    const row = this.#db.one<{ attempts: number }>`UPDATE receipt_queue SET attempts = attempts + 1 WHERE user = ${user} RETURNING attempts`;
    if (!row) return true;
    if (attemptsExhausted(row.attempts, policy)) {
      this.#db.run`DELETE FROM receipt_queue WHERE user = ${user}`;
      return false;
    }
    this.#db.run`UPDATE receipt_queue SET next_at = ${now + backoffDelay(row.attempts, policy)} WHERE user = ${user}`;
    return true;
  }

  dueReceipts(now: number, limit: number): string[] {
    return this.#db.all<{ user: string }>`SELECT user FROM receipt_queue WHERE next_at <= ${now} ORDER BY next_at LIMIT ${limit}`.map((r) => r.user);
  }

  nextDueAt(): number | undefined {
    const row = this.#db.one<{ t: number | null }>`
      SELECT MIN(t) AS t FROM (
        SELECT MIN(next_at) AS t FROM member_queue UNION ALL SELECT MIN(next_at) FROM receipt_queue)`;
    return row?.t ?? undefined;
  }

  hasPendingFanout(): boolean {
    return this.#db.one`SELECT 1 AS x FROM fanout LIMIT 1` !== undefined;
  }
}
