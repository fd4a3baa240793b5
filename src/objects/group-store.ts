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
  /** When their membership news, which ran out of attempts, is told again; 0: nothing owed (see memberFailed). */
  membership_retry_at: number;
};

/** What the fan-out needs of a current member (not their watermarks, which move all the time). */
export type FanoutTarget = Pick<MemberRow, "user" | "joined_seq" | "left_seq" | "membership_retry_at">;

/** Newest log entries kept in memory: a busy fan-out reads the same few for every member's call. */
const RECENT_ENTRIES = 256;
/** Owed membership news is tried again at the longest backoff, and never sooner than this. */
const OWED_MEMBERSHIP_RETRY_MIN_MS = 60_000;

type MessageRow = { seq: number; id: string; sender: string; client_id: string; text: string; sent_at: number; event: string | null };

/**
 * A member's retry queue row. `membership` is 0 when no membership news is
 * waiting, else the log head when the newest was queued: a call that told an
 * older one does not clear it (see memberDone).
 */
export type QueueRow = { user: string; after_seq: number; upto_seq: number; membership: number; attempts: number; next_at?: number };

/** How many watermark moves per member and kind are kept (at least) for message info times. */
const MARKS_KEPT = 64;
/** A member's marks of one kind are trimmed back to MARKS_KEPT once this many more were written. */
const MARKS_TRIM_EVERY = 32;

type Mark = { user: string; kind: "delivered" | "read"; upto: number; at: number };

/**
 * One group's SQLite state: its members and roles, its log, receipt
 * watermarks, and the retry queues of its fan-out. Synchronous; the group
 * object decides when to call what.
 *
 * Some writes are deferred: watermark moves, and the clean-up after work that
 * succeeded (a finished fan-out, a receipt that reached its sender). They are
 * kept here in memory, reads that depend on them count them (or write them
 * first), and `flush()` writes them all at once, so that many cost one SQLite
 * commit instead of one each. The group object decides when to flush; why
 * losing them in a crash is harmless is said where each is deferred.
 */
export class GroupStore {
  readonly #storage: DurableObjectStorage;
  readonly #db: Sql;
  /** False until the group is created: see the constructor. */
  #hasSchema: boolean;
  #group = "";
  #head = 0;
  /** Watermarks accepted and not yet written, per member (each at least the stored one). */
  readonly #watermarks = new Map<string, { delivered: number; read: number }>();
  /** Watermark moves not yet written, for message info times. */
  #marks: Mark[] = [];
  /** Marks written per member and kind since their last trim in this instance. */
  readonly #untrimmed = new Map<string, number>();
  /** The fan-out is done up to this seq; `fanout` rows up to it are deleted at the next flush. */
  #fannedOut = 0;
  #fanoutFlushed = 0;
  /** Senders whose receipt arrived; their `receipt_queue` rows are deleted at the next flush. */
  readonly #receiptsDone = new Set<string>();
  /** The newest entries appended by this instance, consecutive seqs up to the head (entries never change). */
  #recent: GroupMessage[] = [];
  /**
   * Users known to have a member row (current or former) and no membership
   * news owed: all an acknowledgement needs to know, which would otherwise be
   * a read per acknowledging member. Rows are never deleted; owing news
   * (memberFailed) takes a user out.
   */
  readonly #settledMembers = new Set<string>();
  /** The current members as the fan-out sees them, read once per membership change (each dispatch asks). */
  #fanoutTargets: FanoutTarget[] | undefined;

  /**
   * The schema is made by `create`, not here: any user can name any group id,
   * and a call about one that was never created must write nothing (not even
   * tables, which would keep an object stored per id asked about). Until
   * then `meta()` and `member()` answer undefined, and the group object calls
   * nothing else.
   */
  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#db = new Sql(storage.sql);
    this.#hasSchema = this.#db.one`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'meta'` !== undefined;
    if (!this.#hasSchema) return;
    migrate(storage, this.#db, GROUP_MIGRATIONS);
    this.#head = this.#db.one<{ h: number | null }>`SELECT MAX(seq) AS h FROM messages`?.h ?? 0;
    this.#group = this.meta()?.id ?? "";
  }

  /** Whether the group was created (the one check before anything else is called). */
  get created(): boolean {
    return this.#group !== "";
  }

  /** The newest seq in the log. */
  get head(): number {
    return this.#head;
  }

  // ---- the group itself ----------------------------------------------------------

  meta(): { id: string; name: string; createdBy: string; createdAt: number } | undefined {
    if (!this.#hasSchema) return undefined;
    const rows = this.#db.all<{ key: string; value: string | number }>`SELECT key, value FROM meta`;
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (m.id === undefined) return undefined;
    return { id: String(m.id), name: String(m.name), createdBy: String(m.created_by), createdAt: Number(m.created_at) };
  }

  create(id: string, name: string, creator: string, now: number): void {
    if (!this.#hasSchema) {
      migrate(this.#storage, this.#db, GROUP_MIGRATIONS);
      this.#hasSchema = true;
    }
    this.#db.run`INSERT INTO meta (key, value) VALUES ('id', ${id}), ('name', ${name}), ('created_by', ${creator}), ('created_at', ${now})`;
    this.#group = id;
  }

  rename(name: string): void {
    this.#db.run`UPDATE meta SET value = ${name} WHERE key = 'name'`;
  }

  // ---- members ---------------------------------------------------------------------

  /**
   * Whether `user` may acknowledge (has a member row, current or former), and
   * their row when membership news is owed to them; no read once known.
   */
  acknowledger(user: string): { owed?: MemberRow } | undefined {
    if (this.#settledMembers.has(user)) return {};
    const row = this.member(user);
    if (!row) return undefined;
    if (row.membership_retry_at) return { owed: row };
    this.#settledMembers.add(user);
    return {};
  }

  member(user: string): MemberRow | undefined {
    if (!this.#hasSchema) return undefined;
    const row = this.#db.one<MemberRow>`SELECT * FROM members WHERE user = ${user}`;
    return row && this.#withPending(row);
  }

  isCurrent(user: string): boolean {
    return this.member(user)?.left_seq === null;
  }

  /** Current members for the fan-out, oldest first; kept until membership or owed news changes. */
  fanoutTargets(): readonly FanoutTarget[] {
    this.#fanoutTargets ??= this.#db.all<FanoutTarget>`
      SELECT user, joined_seq, left_seq, membership_retry_at FROM members WHERE left_seq IS NULL ORDER BY joined_seq, user`;
    return this.#fanoutTargets;
  }

  /** Current members, oldest first (at most the cap, so bounded). */
  currentMembers(): MemberRow[] {
    const rows = this.#db.all<MemberRow>`SELECT * FROM members WHERE left_seq IS NULL ORDER BY joined_seq, user`;
    return this.#watermarks.size === 0 ? rows : rows.map((r) => this.#withPending(r));
  }

  #withPending(row: MemberRow): MemberRow {
    const pending = this.#watermarks.get(row.user);
    if (!pending) return row;
    return { ...row, delivered: Math.max(row.delivered, pending.delivered), read: Math.max(row.read, pending.read) };
  }

  memberCount(): number {
    return this.#db.one<{ n: number }>`SELECT COUNT(*) AS n FROM members WHERE left_seq IS NULL`!.n;
  }

  adminCount(): number {
    return this.#db.one<{ n: number }>`SELECT COUNT(*) AS n FROM members WHERE left_seq IS NULL AND role = 'admin'`!.n;
  }

  /** Adds (or re-adds) a member who will see the log after `joinedSeq`. */
  addMember(user: string, role: GroupRole, joinedSeq: number, now: number): void {
    // Membership resets the watermarks: write what was pending first, so nothing lands on top later.
    this.flush();
    this.#fanoutTargets = undefined;
    this.#db.run`
      INSERT INTO members (user, role, joined_seq, joined_at, left_seq, delivered, read)
      VALUES (${user}, ${role}, ${joinedSeq}, ${now}, NULL, ${joinedSeq}, ${joinedSeq})
      ON CONFLICT (user) DO UPDATE SET role = excluded.role, joined_seq = excluded.joined_seq,
        joined_at = excluded.joined_at, left_seq = NULL, delivered = excluded.delivered, read = excluded.read`;
  }

  removeMember(user: string, leftSeq: number): void {
    this.flush();
    this.#fanoutTargets = undefined;
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
    const message = this.#toMessage({ seq, id, sender, client_id: clientId, text, sent_at: now, event: event ? JSON.stringify(event) : null });
    if (this.#recent.at(-1)?.seq !== seq - 1) this.#recent = [];
    this.#recent.push(message);
    if (this.#recent.length > RECENT_ENTRIES) this.#recent.shift();
    return message;
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
    const first = this.#recent[0]?.seq;
    if (first !== undefined && after + 1 >= first) {
      return this.#recent.slice(after + 1 - first, Math.min(upto, after + limit) + 1 - first);
    }
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

  /**
   * Moves a member's watermark forward (read implies delivered). True when it
   * moved. Held in memory until `flush()`: every read here sees it at once.
   */
  acknowledge(user: string, kind: "delivered" | "read", upto: number, now: number): boolean {
    const member = this.member(user);
    if (!member) return false;
    const ceiling = member.left_seq ?? this.#head;
    const capped = Math.min(upto, ceiling);
    const delivered = Math.max(member.delivered, capped);
    const read = kind === "read" ? Math.max(member.read, capped) : member.read;
    if (delivered === member.delivered && read === member.read) return false;
    this.#watermarks.set(user, { delivered, read });
    if (delivered > member.delivered) this.#marks.push({ user, kind: "delivered", upto: delivered, at: now });
    if (read > member.read) this.#marks.push({ user, kind: "read", upto: read, at: now });
    return true;
  }

  /** Whether anything accepted in memory is still to be written. */
  get unflushed(): boolean {
    return this.#watermarks.size > 0 || this.#marks.length > 0 || this.#fannedOut > this.#fanoutFlushed || this.#receiptsDone.size > 0;
  }

  /**
   * Writes every deferred write with a handful of statements (the lists go
   * in as one bound JSON value each, so no bound-parameter limit applies),
   * inside the caller's event: one commit however many there are.
   */
  flush(): void {
    if (this.#watermarks.size > 0) {
      const moves = JSON.stringify([...this.#watermarks].map(([user, w]) => [user, w.delivered, w.read]));
      this.#watermarks.clear();
      this.#db.run`
        UPDATE members SET delivered = MAX(members.delivered, v.d), read = MAX(members.read, v.r)
        FROM (SELECT value ->> 0 AS u, value ->> 1 AS d, value ->> 2 AS r FROM json_each(${moves})) AS v
        WHERE members.user = v.u`;
    }
    if (this.#marks.length > 0) {
      const marks = this.#marks;
      this.#marks = [];
      this.#db.run`
        INSERT OR IGNORE INTO receipt_marks (user, kind, upto, at)
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(${JSON.stringify(marks.map((m) => [m.user, m.kind, m.upto, m.at]))})`;
      this.#trimMarks(marks);
    }
    if (this.#fannedOut > this.#fanoutFlushed) {
      this.#db.run`DELETE FROM fanout WHERE seq <= ${this.#fannedOut}`;
      this.#fanoutFlushed = this.#fannedOut;
    }
    if (this.#receiptsDone.size > 0) {
      const users = JSON.stringify([...this.#receiptsDone]);
      this.#receiptsDone.clear();
      this.#db.run`DELETE FROM receipt_queue WHERE user IN (SELECT value FROM json_each(${users}))`;
    }
  }

  /**
   * Keeps the newest MARKS_KEPT marks of each member and kind. Trimming walks
   * those marks, so it runs on a member's first move in this instance (an
   * object evicted between a few moves still trims) and then once per
   * MARKS_TRIM_EVERY moves, not on every move.
   */
  #trimMarks(marks: Mark[]): void {
    const due: [string, string][] = [];
    for (const { user, kind } of marks) {
      const key = `${kind}:${user}`;
      const since = this.#untrimmed.get(key);
      if (since === undefined || since + 1 >= MARKS_TRIM_EVERY) {
        this.#untrimmed.set(key, 0);
        due.push([user, kind]);
      } else {
        this.#untrimmed.set(key, since + 1);
      }
    }
    if (due.length === 0) return;
    this.#db.run`
      DELETE FROM receipt_marks WHERE (user, kind, upto) IN (
        SELECT r.user, r.kind, r.upto
        FROM (SELECT value ->> 0 AS u, value ->> 1 AS k FROM json_each(${JSON.stringify(due)})) AS t
        JOIN receipt_marks r ON r.user = t.u AND r.kind = t.k
        WHERE r.upto < (
          SELECT x.upto FROM receipt_marks x WHERE x.user = t.u AND x.kind = t.k
          ORDER BY x.upto DESC LIMIT 1 OFFSET ${MARKS_KEPT - 1}))`;
  }

  /** Every current member has received / read up to these seqs (pending moves written first). */
  aggregate(): { delivered: number; read: number } {
    this.flush();
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
    this.flush();
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

  /** Seqs after `after` still marked for fan-out, oldest first. */
  pendingFanout(after: number, limit: number): number[] {
    return this.#db.all<{ seq: number }>`SELECT seq FROM fanout WHERE seq > ${after} ORDER BY seq LIMIT ${limit}`.map((r) => r.seq);
  }

  /**
   * Every member's object got everything up to `upto`, or has it queued. The
   * rows go at the next flush; lost in a crash, the alarm fans those messages
   * out again, which members' devices take as repeats (section 3 of
   * docs/guarantees.md: pushed at least once).
   */
  fanoutDone(upto: number): void {
    this.#fannedOut = Math.max(this.#fannedOut, upto);
  }

  queued(user: string): QueueRow | undefined {
    return this.#db.one<QueueRow>`SELECT user, after_seq, upto_seq, membership, attempts, next_at FROM member_queue WHERE user = ${user}`;
  }

  /**
   * The member's object must still be told (after, upto] and/or its
   * membership; merges with what is queued. Membership news owed to the
   * member (it ran out of attempts earlier) goes with it: the row carries it
   * from now on.
   */
  enqueueMember(user: string, after: number, upto: number, membership: boolean, nextAt: number, attempts = 0): void {
    // Every membership change logs an entry, so the head orders the news.
    const version = Math.max(1, this.#head);
    this.#db.run`
      INSERT INTO member_queue (user, after_seq, upto_seq, membership, attempts, next_at)
      VALUES (${user}, ${after}, ${upto},
        MAX(${membership ? version : 0}, COALESCE((SELECT ${version} FROM members WHERE user = ${user} AND membership_retry_at > 0), 0)),
        ${attempts}, ${nextAt})
      ON CONFLICT (user) DO UPDATE SET
        after_seq = MIN(after_seq, excluded.after_seq),
        upto_seq = MAX(upto_seq, excluded.upto_seq),
        membership = MAX(membership, excluded.membership)`;
    const owedCleared = this.#db.one`UPDATE members SET membership_retry_at = 0 WHERE user = ${user} AND membership_retry_at > 0 RETURNING user`;
    // Only owed news changes what the fan-out knows of a member; being behind does not.
    if (owedCleared) this.#fanoutTargets = undefined;
  }

  /**
   * The member's object has everything up to `upto`, and the membership news
   * queued up to `membershipTold` (its version, 0 for none): drop the row
   * unless more was queued meanwhile, news included.
   */
  memberDone(user: string, upto: number, membershipTold: number): void {
    this.#db.run`
      UPDATE member_queue SET after_seq = MAX(after_seq, ${upto}),
        membership = CASE WHEN membership <= ${membershipTold} THEN 0 ELSE membership END
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
      this.#db.run`DELETE FROM member_queue WHERE user = ${user}`;
      // Messages are given up (the member syncs them), but not membership
      // news: without it their object would not know the group at all. It is
      // owed: told with the next push (or call) that reaches the member, and
      // by the alarm after the longest backoff, without holding up messages.
      const retryAt = now + Math.max(policy.maxMs, OWED_MEMBERSHIP_RETRY_MIN_MS);
      if (row.membership > 0) {
        this.#db.run`UPDATE members SET membership_retry_at = ${retryAt} WHERE user = ${user}`;
        this.#settledMembers.delete(user);
        this.#fanoutTargets = undefined;
      }
      return row;
    }
    this.#db.run`UPDATE member_queue SET next_at = ${now + backoffDelay(row.attempts, policy)} WHERE user = ${user}`;
    return undefined;
  }

  /** Members whose owed membership news is due to be told again. */
  owedMembershipDue(now: number, limit: number): MemberRow[] {
    return this.#db
      .all<MemberRow>`SELECT * FROM members WHERE membership_retry_at > 0 AND membership_retry_at <= ${now} ORDER BY membership_retry_at LIMIT ${limit}`
      .map((row) => this.#withPending(row));
  }

  dueMembers(now: number, limit: number): string[] {
    return this.#db.all<{ user: string }>`SELECT user FROM member_queue WHERE next_at <= ${now} ORDER BY next_at LIMIT ${limit}`.map((r) => r.user);
  }

  enqueueReceipt(user: string, nextAt: number): void {
    if (this.#receiptsDone.delete(user)) {
      // Its row is still there from the receipt that arrived: it stands for this one now, afresh.
      this.#db.run`
        INSERT INTO receipt_queue (user, next_at) VALUES (${user}, ${nextAt})
        ON CONFLICT (user) DO UPDATE SET attempts = 0, next_at = excluded.next_at`;
    } else {
      this.#db.run`INSERT INTO receipt_queue (user, next_at) VALUES (${user}, ${nextAt}) ON CONFLICT (user) DO NOTHING`;
    }
  }

  /**
   * The sender has the newest watermarks. Their row goes at the next flush;
   * lost in a crash, the alarm sends the same watermarks again (harmless).
   */
  receiptDone(user: string): void {
    this.#receiptsDone.add(user);
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
    this.flush();
    return this.#db.all<{ user: string }>`SELECT user FROM receipt_queue WHERE next_at <= ${now} ORDER BY next_at LIMIT ${limit}`.map((r) => r.user);
  }

  nextDueAt(): number | undefined {
    const row = this.#db.one<{ t: number | null }>`
      SELECT MIN(t) AS t FROM (
        SELECT MIN(next_at) AS t FROM member_queue UNION ALL SELECT MIN(next_at) FROM receipt_queue
        UNION ALL SELECT MIN(membership_retry_at) FROM members WHERE membership_retry_at > 0)`;
    return row?.t ?? undefined;
  }

  /** Members with a queue row, and when it is due. */
  queuedUsers(): Map<string, number> {
    return new Map(this.#db.all<{ user: string; next_at: number }>`SELECT user, next_at FROM member_queue`.map((r) => [r.user, r.next_at]));
  }
}
