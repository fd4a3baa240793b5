import type { RetryPolicy } from "../config";
import type { ChatState, Failure, FailureReason, GroupMembership, GroupRole, Message, MessageStatus, Settings } from "../protocol";

export const DEFAULT_SETTINGS: Settings = { lastSeen: "everyone", readReceipts: true };
import { attemptsExhausted, backoffDelay } from "./lib/backoff";
import { migrate } from "./lib/migrations";
import { Sql } from "./lib/sql";
import { USER_MIGRATIONS } from "./user-schema";

/** A message as it travels between user objects (native RPC, structured clone). */
export interface WireMessage {
  id: string;
  from: string;
  to: string;
  seq: number;
  clientId: string;
  text: string;
  sentAt: number;
}

type MessageRow = {
  rev: number;
  id: string;
  peer: string;
  outgoing: number;
  seq: number;
  client_id: string;
  text: string;
  sent_at: number;
  failed: string | null;
  /** The chat's watermarks, joined in by message_view. */
  delivered: number;
  read: number;
};

type ChatRow = {
  peer: string;
  last_out: number;
  last_in: number;
  delivered: number;
  read: number;
  delivered_by_me: number;
  read_by_me: number;
  rev: number;
  peer_has: number;
  told_delivered: number;
  told_read: number;
};

/**
 * Watermarks that move on the happy path without a write of their own (see
 * user-schema step 3). They reach their columns with the next write of the
 * chat's row, or the alarm's sweep; a restart before that loses only work
 * that is repeated idempotently.
 */
interface LazyMarks {
  /** The peer's object has stored my messages up to this seq. */
  peerHas: number;
  /** My devices have the peer's messages up to this seq. */
  deliveredByMe: number;
  /** The peer's object has taken these watermarks of mine. */
  toldDelivered: number;
  toldRead: number;
}

/**
 * Everything one user's object keeps in SQLite: chats, messages (inbox and
 * sent), the delivery and receipt retry queues, and device cursors. Plain
 * synchronous methods; the object decides when to call them.
 */
export class UserStore {
  readonly #db: Sql;
  #rev: number;
  #owner: string | undefined;
  #settings: Settings | undefined;
  readonly #lazy = new Map<string, LazyMarks>();
  /**
   * Chat rows as stored: a message reads its chat's row several times on
   * each side. Every write to `chats` below refreshes or drops its copy.
   */
  readonly #chats = new Map<string, ChatRow>();
  /**
   * Whether a peer has rows in `outbox` / `receipt_outbox`, once asked: they
   * exist only after a failed call, and every message asked (two reads per
   * message). Set by the writes below that add rows; forgotten (asked again)
   * after a delete that may leave some.
   */
  readonly #hasOutbox = new Map<string, boolean>();
  readonly #hasReceiptRow = new Map<string, boolean>();
  /** My groups as stored, read once each: every group push asks. Ids that are not mine are not kept (any client can name one). */
  readonly #groups = new Map<string, GroupMembership>();

  constructor(storage: DurableObjectStorage) {
    this.#db = new Sql(storage.sql);
    migrate(storage, this.#db, USER_MIGRATIONS);
    // The log head is derived from the rows that carry revs rather than kept
    // in a counter row, which would cost a write per change.
    const head = this.#db.one<{ m: number | null; c: number | null; f: number | null; g: number | null }>`
      SELECT (SELECT MAX(rev) FROM messages) AS m, (SELECT MAX(rev) FROM chats) AS c,
             (SELECT MAX(failed_rev) FROM messages) AS f, (SELECT MAX(rev) FROM groups) AS g`;
    this.#rev = Math.max(head?.m ?? 0, head?.c ?? 0, head?.f ?? 0, head?.g ?? 0);
  }

  /** The newest rev in the log. */
  get rev(): number {
    return this.#rev;
  }

  #nextRev(): number {
    return ++this.#rev;
  }

  // ---- identity --------------------------------------------------------------

  /** The username this object belongs to, once it has learnt it. */
  owner(): string | undefined {
    this.#owner ??= this.#db.one<{ value: string }>`SELECT value FROM meta WHERE key = 'owner'`?.value;
    return this.#owner;
  }

  setOwner(user: string): void {
    this.#db.run`INSERT INTO meta (key, value) VALUES ('owner', ${user}) ON CONFLICT (key) DO NOTHING`;
    this.#owner = undefined;
  }

  // ---- settings ------------------------------------------------------------------

  settings(): Settings {
    if (!this.#settings) {
      const stored = this.#db.one<{ value: string }>`SELECT value FROM meta WHERE key = 'settings'`?.value;
      this.#settings = stored ? { ...DEFAULT_SETTINGS, ...(JSON.parse(stored) as Partial<Settings>) } : DEFAULT_SETTINGS;
    }
    return this.#settings;
  }

  setSettings(changes: Partial<Settings>): Settings {
    const next = { ...this.settings(), ...changes };
    this.#db.run`
      INSERT INTO meta (key, value) VALUES ('settings', ${JSON.stringify(next)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    this.#settings = next;
    return next;
  }

  // ---- chats -------------------------------------------------------------------

  chat(peer: string): ChatState | undefined {
    const row = this.#chatRow(peer);
    return row && this.#toChatState(row);
  }

  /** "My contacts" for privacy: the people I have a one-to-one chat with. */
  isContact(user: string): boolean {
    return this.#chatRow(user) !== undefined;
  }

  #chatRow(peer: string): ChatRow | undefined {
    let row = this.#chats.get(peer);
    if (row === undefined) {
      row = this.#db.one<ChatRow>`SELECT * FROM chats WHERE peer = ${peer}`;
      // Only chats that exist are kept: any client can name a peer.
      if (row) this.#chats.set(peer, row);
    }
    return row;
  }

  /** Opens the chat's row if it has none yet. */
  #ensureChat(peer: string): void {
    if (this.#chatRow(peer)) return;
    this.#db.run`INSERT INTO chats (peer, rev) VALUES (${peer}, 0) ON CONFLICT (peer) DO NOTHING`;
  }

  /** Keeps the copy of a row a write just returned. */
  #keep(row: ChatRow): ChatRow {
    this.#chats.set(row.peer, row);
    return row;
  }

  // ---- sending ---------------------------------------------------------------

  /** The answer to an earlier send with this client id, if there was one. */
  sentByClientId(clientId: string): Message | undefined {
    const row = this.#db.one<MessageRow>`
      SELECT * FROM message_view m
      WHERE m.client_id = ${clientId} AND m.outgoing = 1`;
    return row && this.#toMessage(row);
  }

  /**
   * Stores my new message; it is pending for the peer's object until that has
   * stored it. `queuedUntil`: the peer's retry queue is waiting out a backoff,
   * and the message joins it.
   */
  storeOutgoing(me: string, peer: string, clientId: string, text: string, sentAt: number, queuedUntil?: number): WireMessage & { rev: number } {
    const rev = this.#nextRev();
    this.#ensureChat(peer);
    const seq = this.#writeChat(peer, { nextOut: true })!.last_out;
    const id = crypto.randomUUID();
    this.#db.run`
      INSERT INTO messages (rev, id, peer, outgoing, seq, client_id, text, sent_at)
      VALUES (${rev}, ${id}, ${peer}, 1, ${seq}, ${clientId}, ${text}, ${sentAt})`;
    if (queuedUntil !== undefined) {
      this.#db.run`INSERT INTO outbox (rev, peer, next_at) VALUES (${rev}, ${peer}, ${queuedUntil})`;
      this.#hasOutbox.set(peer, true);
    }
    return { id, from: me, to: peer, seq, clientId, text, sentAt, rev };
  }

  // ---- receiving ---------------------------------------------------------------

  /**
   * Stores messages from `peer`, skipping any already stored (a retried
   * delivery). Returns the newly stored ones, in order, and the last seq from
   * the peer I now hold.
   */
  storeIncoming(peer: string, messages: readonly WireMessage[]): { stored: Message[]; lastIn: number } {
    const lastIn = this.#chatRow(peer)?.last_in ?? 0;
    const fresh = messages.filter((m) => m.seq > lastIn).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return { stored: [], lastIn };
    this.#ensureChat(peer);
    const stored: Message[] = [];
    let previous = lastIn;
    for (const m of fresh) {
      if (m.seq === previous) continue; // the same seq twice in one batch
      previous = m.seq;
      const rev = this.#nextRev();
      this.#db.run`
        INSERT INTO messages (rev, id, peer, outgoing, seq, client_id, text, sent_at)
        VALUES (${rev}, ${m.id}, ${peer}, 0, ${m.seq}, ${m.clientId}, ${m.text}, ${m.sentAt})`;
      stored.push({ id: m.id, chat: peer, from: m.from, to: m.to, seq: m.seq, clientId: m.clientId, text: m.text, sentAt: m.sentAt, rev });
    }
    this.#writeChat(peer, { last_in: previous });
    return { stored, lastIn: previous };
  }

  // ---- receipts ------------------------------------------------------------------

  /**
   * The peer reports how far it has received and read my messages. Returns the
   * chat's new state when a watermark moved, undefined otherwise.
   */
  applyPeerReceipts(peer: string, delivered: number, read: number): ChatState | undefined {
    const chat = this.#chatRow(peer);
    if (!chat) return undefined;
    // Never past what I sent, never backwards; read implies delivered.
    const newRead = Math.max(chat.read, Math.min(read, chat.last_out));
    const newDelivered = Math.max(chat.delivered, newRead, Math.min(delivered, chat.last_out));
    if (newRead === chat.read && newDelivered === chat.delivered) return undefined;
    return this.#updateChat(peer, { delivered: newDelivered, read: newRead });
  }

  /**
   * My device confirms it has (delivered) or I have seen (read) the peer's
   * messages up to `upto`. Returns the watermarks to tell the peer when they
   * moved, and the chat state when my other devices must hear of it (read).
   */
  acknowledge(peer: string, kind: "delivered" | "read", upto: number): { moved: boolean; chat?: ChatState } | undefined {
    const chat = this.#chatRow(peer);
    if (!chat) return undefined;
    const capped = Math.min(upto, chat.last_in);
    const deliveredByMe = Math.max(chat.delivered_by_me, this.#lazy.get(peer)?.deliveredByMe ?? 0);
    if (kind === "delivered") {
      if (capped <= deliveredByMe) return { moved: false };
      // No write: told to the peer at once. Lost in a crash before that, it is
      // repeated by my device's next acknowledgement in this chat (a watermark).
      this.#lazyFor(peer).deliveredByMe = capped;
      return { moved: true };
    }
    if (capped <= chat.read_by_me) return { moved: false };
    const state = this.#updateChat(peer, { read_by_me: capped, delivered_by_me: Math.max(deliveredByMe, capped) });
    return { moved: true, chat: state };
  }

  /** A change of the chat's watermarks that devices sync: it takes a rev. */
  #updateChat(peer: string, changes: { delivered?: number; read?: number; read_by_me?: number; delivered_by_me?: number }): ChatState {
    return this.#toChatState(this.#writeChat(peer, { ...changes, rev: this.#nextRev() })!);
  }

  /**
   * Every write of a chat row, as one statement (prepared once per wake):
   * the given columns, and the peer's in-memory watermarks folded in (`MAX`
   * with the stored values), which cost nothing more while the row is written
   * anyway. Keeps the row it returns; undefined when the chat has no row.
   */
  #writeChat(
    peer: string,
    changes: { nextOut?: boolean; last_in?: number; delivered?: number; read?: number; read_by_me?: number; delivered_by_me?: number; rev?: number },
  ): ChatRow | undefined {
    const marks = this.#lazy.get(peer) ?? { peerHas: 0, deliveredByMe: 0, toldDelivered: 0, toldRead: 0 };
    this.#lazy.delete(peer);
    const row = this.#db.one<ChatRow>`
      UPDATE chats SET
        last_out = last_out + ${changes.nextOut ? 1 : 0},
        last_in = COALESCE(${changes.last_in ?? null}, last_in),
        delivered = COALESCE(${changes.delivered ?? null}, delivered),
        read = COALESCE(${changes.read ?? null}, read),
        read_by_me = COALESCE(${changes.read_by_me ?? null}, read_by_me),
        delivered_by_me = MAX(COALESCE(${changes.delivered_by_me ?? null}, delivered_by_me), ${marks.deliveredByMe}),
        peer_has = MAX(peer_has, ${marks.peerHas}),
        told_delivered = MAX(told_delivered, ${marks.toldDelivered}),
        told_read = MAX(told_read, ${marks.toldRead}),
        rev = COALESCE(${changes.rev ?? null}, rev)
      WHERE peer = ${peer} RETURNING *`;
    return row && this.#keep(row);
  }

  #lazyFor(peer: string): LazyMarks {
    let marks = this.#lazy.get(peer);
    if (!marks) this.#lazy.set(peer, (marks = { peerHas: 0, deliveredByMe: 0, toldDelivered: 0, toldRead: 0 }));
    return marks;
  }

  /** Folds the peer's in-memory watermarks into its row on their own (the alarm's sweep, a retry row). */
  #writeLazyMarks(peer: string): void {
    if (this.#lazy.has(peer)) this.#writeChat(peer, {});
  }

  /** Writes every in-memory watermark to its row (the alarm's sweep). */
  writeAllLazyMarks(): void {
    for (const peer of [...this.#lazy.keys()]) this.#writeLazyMarks(peer);
  }

  // ---- the delivery queue (my messages on their way to peers' objects) ------------
  //
  // Pending for a peer = my messages past the seq its object is known to hold
  // and not failed. The happy path keeps that seq in memory; only a failed
  // attempt writes a retry queue (outbox rows with attempts and a due time).

  /** How far the peer's object holds my messages, as far as I know. */
  #peerHas(peer: string): number {
    const row = this.#chatRow(peer);
    return Math.max(this.#lazy.get(peer)?.peerHas ?? 0, row?.peer_has ?? 0, row?.delivered ?? 0);
  }

  /** Oldest first: a peer receives my messages in the order I sent them. */
  pendingFor(peer: string, limit: number): WireMessage[] {
    const me = this.owner() ?? "";
    const peerHas = this.#peerHas(peer);
    // The usual case after a hand-over: the peer holds my last message.
    if (peerHas >= (this.#chatRow(peer)?.last_out ?? 0)) return [];
    return this.#db
      .all<{ id: string; seq: number; client_id: string; text: string; sent_at: number }>`
        SELECT id, seq, client_id, text, sent_at FROM messages
        WHERE peer = ${peer} AND outgoing = 1 AND seq > ${peerHas} AND failed IS NULL
        ORDER BY seq LIMIT ${limit}`
      .map((r) => ({ id: r.id, from: me, to: peer, seq: r.seq, clientId: r.client_id, text: r.text, sentAt: r.sent_at }));
  }

  hasPending(peer: string): boolean {
    return this.pendingFor(peer, 1).length > 0;
  }

  /** When the peer's retry queue is next due, if a failed attempt left one. */
  peerDueAt(peer: string): number | undefined {
    if (this.#hasOutbox.get(peer) === false) return undefined;
    const due = this.#db.one<{ t: number | null }>`SELECT MIN(next_at) AS t FROM outbox WHERE peer = ${peer}`?.t ?? undefined;
    this.#hasOutbox.set(peer, due !== undefined);
    return due;
  }

  /** The peer's object has stored these messages (by seq, up to and including). */
  deliveredToPeer(peer: string, uptoSeq: number): void {
    const marks = this.#lazyFor(peer);
    marks.peerHas = Math.max(marks.peerHas, uptoSeq);
    // Only a queue that failed before has rows to clear; the check keeps the
    // happy path free of write statements (each would cost a commit).
    if (this.#hasOutbox.get(peer) === false) return;
    if (this.#db.one`SELECT 1 AS x FROM outbox WHERE peer = ${peer} LIMIT 1` === undefined) {
      this.#hasOutbox.set(peer, false);
      return;
    }
    // Driven from the (short) outbox side: the chat's history is never scanned.
    this.#db.run`
      DELETE FROM outbox WHERE rev IN (
        SELECT o.rev FROM outbox o JOIN messages m ON m.rev = o.rev
        WHERE o.peer = ${peer} AND m.seq <= ${uptoSeq})`;
    this.#hasOutbox.delete(peer);
  }

  /**
   * Peers that may lack messages of mine with no retry queue to say so: what
   * a restart cut off between storing a message and handing it over.
   */
  unhandedPeers(): string[] {
    return this.#db
      .all<{ peer: string }>`
        SELECT c.peer FROM chats c
        WHERE c.last_out > MAX(c.peer_has, c.delivered)
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.peer = c.peer)`
      .map((r) => r.peer)
      .filter((peer) => this.hasPending(peer));
  }

  /**
   * A delivery attempt to the peer failed. Every queued message counts the
   * attempt; those out of attempts fail for good and are returned so the
   * sender's devices can be told.
   */
  deliveryFailed(peer: string, error: string, policy: RetryPolicy, now: number): Failure[] {
    // The first failure turns the peer's pending messages into a retry queue.
    this.#db.run`
      INSERT OR IGNORE INTO outbox (rev, peer, next_at)
      SELECT rev, peer, ${now} FROM messages
      WHERE peer = ${peer} AND outgoing = 1 AND seq > ${this.#peerHas(peer)} AND failed IS NULL`;
    this.#hasOutbox.delete(peer);
    const rows = this.#db.all<{ rev: number; attempts: number }>`
      UPDATE outbox SET attempts = attempts + 1, last_error = ${error.slice(0, 200)}
      WHERE peer = ${peer} RETURNING rev, attempts`;
    if (rows.length === 0) return [];
    const exhausted = rows.filter((r) => attemptsExhausted(r.attempts, policy));
    const failures = exhausted.map((r) => this.#fail(r.rev, "unreachable"));
    if (failures.length < rows.length) {
      const attempts = Math.max(...rows.filter((r) => !exhausted.includes(r)).map((r) => r.attempts));
      const nextAt = now + backoffDelay(attempts, policy);
      this.#db.run`UPDATE outbox SET next_at = ${nextAt} WHERE peer = ${peer}`;
    }
    return failures;
  }

  #fail(messageRev: number, reason: FailureReason): Failure {
    const rev = this.#nextRev();
    this.#db.run`DELETE FROM outbox WHERE rev = ${messageRev}`;
    this.#hasOutbox.clear(); // the row's peer is not at hand here; failures are rare
    const row = this.#db.one<{ id: string; client_id: string; peer: string; seq: number }>`
      UPDATE messages SET failed = ${reason}, failed_rev = ${rev} WHERE rev = ${messageRev}
      RETURNING id, client_id, peer, seq`!;
    return { id: row.id, clientId: row.client_id, chat: row.peer, seq: row.seq, reason, rev };
  }

  /** Peers whose delivery queue is due now. */
  duePeers(now: number): string[] {
    return this.#db.all<{ peer: string }>`SELECT DISTINCT peer FROM outbox WHERE next_at <= ${now}`.map((r) => r.peer);
  }

  // ---- the receipt queue -------------------------------------------------------------
  //
  // What the peer has not been told = my watermarks past the told ones. The
  // happy path tells at once and remembers in memory; a failed or deferred
  // call writes a retry row (attempts and a due time) in receipt_outbox.

  /** My watermarks the peer has not been told yet; undefined when it is up to date. */
  receiptToSend(peer: string): { delivered: number; read: number } | undefined {
    const chat = this.#chatRow(peer);
    if (!chat) return undefined;
    const marks = this.#lazy.get(peer);
    const delivered = Math.max(chat.delivered_by_me, marks?.deliveredByMe ?? 0);
    // With read receipts off, peers only ever learn "delivered".
    const read = this.settings().readReceipts ? chat.read_by_me : 0;
    const toldDelivered = Math.max(chat.told_delivered, marks?.toldDelivered ?? 0);
    const toldRead = Math.max(chat.told_read, marks?.toldRead ?? 0);
    return delivered > toldDelivered || read > toldRead ? { delivered, read } : undefined;
  }

  /**
   * The peer has taken these watermarks; a retry row goes once nothing newer
   * waits. Returns what moved on meanwhile, still to be told.
   */
  receiptSent(peer: string, delivered: number, read: number): { delivered: number; read: number } | undefined {
    const marks = this.#lazyFor(peer);
    marks.toldDelivered = Math.max(marks.toldDelivered, delivered);
    marks.toldRead = Math.max(marks.toldRead, read);
    const next = this.receiptToSend(peer);
    if (next === undefined && this.#hasReceiptRow.get(peer) !== false) {
      if (this.#db.one`SELECT 1 AS x FROM receipt_outbox WHERE peer = ${peer}` !== undefined) {
        this.#db.run`DELETE FROM receipt_outbox WHERE peer = ${peer}`;
      }
      this.#hasReceiptRow.set(peer, false);
    }
    return next;
  }

  /** Under load: the peer's receipt waits until `nextAt` (and coalesces with later ones). */
  deferReceipt(peer: string, nextAt: number): void {
    this.#writeLazyMarks(peer);
    this.#db.run`
      INSERT INTO receipt_outbox (peer, delivered, read, next_at) VALUES (${peer}, 0, 0, ${nextAt})
      ON CONFLICT (peer) DO UPDATE SET next_at = MIN(next_at, excluded.next_at)`;
    this.#hasReceiptRow.set(peer, true);
  }

  /** A call failed: the receipt is retried later. Returns false when it ran out of attempts and was dropped. */
  receiptFailed(peer: string, policy: RetryPolicy, now: number): boolean {
    // The watermark must now outlive a restart.
    this.#writeLazyMarks(peer);
    const { attempts } = this.#db.one<{ attempts: number }>`
      INSERT INTO receipt_outbox (peer, delivered, read, attempts, next_at) VALUES (${peer}, 0, 0, 1, ${now})
      ON CONFLICT (peer) DO UPDATE SET attempts = attempts + 1 RETURNING attempts`!;
    this.#hasReceiptRow.set(peer, true);
    if (attemptsExhausted(attempts, policy)) {
      this.#db.run`DELETE FROM receipt_outbox WHERE peer = ${peer}`;
      this.#hasReceiptRow.set(peer, false);
      // Given up: counted as told, so the sweep does not start it over.
      const row = this.#db.one<ChatRow>`UPDATE chats SET told_delivered = delivered_by_me, told_read = read_by_me WHERE peer = ${peer} RETURNING *`;
      if (row) this.#keep(row);
      return false;
    }
    this.#db.run`UPDATE receipt_outbox SET next_at = ${now + backoffDelay(attempts, policy)} WHERE peer = ${peer}`;
    return true;
  }

  /** Peers with a stored watermark not told and no retry row: what a restart cut off. */
  untoldPeers(): string[] {
    const stored = this.#db.all<{ peer: string }>`SELECT peer FROM chats WHERE delivered_by_me > told_delivered OR read_by_me > told_read`;
    const queued = new Set(this.#db.all<{ peer: string }>`SELECT peer FROM receipt_outbox`.map((r) => r.peer));
    const candidates = new Set([...stored.map((r) => r.peer), ...this.#lazy.keys()]);
    // A peer with a retry row waits out its backoff.
    return [...candidates].filter((peer) => !queued.has(peer) && this.receiptToSend(peer) !== undefined);
  }

  dueReceiptPeers(now: number): string[] {
    return this.#db.all<{ peer: string }>`SELECT peer FROM receipt_outbox WHERE next_at <= ${now}`.map((r) => r.peer);
  }

  /** The earliest time any queued work is due, to arm the alarm. */
  nextDueAt(): number | undefined {
    const row = this.#db.one<{ t: number | null }>`
      SELECT MIN(t) AS t FROM (SELECT MIN(next_at) AS t FROM outbox UNION ALL SELECT MIN(next_at) FROM receipt_outbox)`;
    return row?.t ?? undefined;
  }

  // ---- reading -------------------------------------------------------------------

  /**
   * What a device that has everything up to `after` is missing: new messages
   * (at most `limit`, in log order), then the chat watermarks and failures that
   * changed within the same range of revs.
   */
  syncAfter(after: number, limit: number): { messages: Message[]; chats: ChatState[]; failures: Failure[]; groups: GroupMembership[]; rev: number; more: boolean } {
    const rows = this.#db.all<MessageRow>`
      SELECT * FROM message_view m
      WHERE m.rev > ${after} ORDER BY m.rev LIMIT ${limit + 1}`;
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const upto = more ? page[page.length - 1]!.rev : this.#rev;
    const chats = this.#db.all<ChatRow>`SELECT * FROM chats WHERE rev > ${after} AND rev <= ${upto} ORDER BY rev`;
    const failures = this.#db
      .all<{ id: string; client_id: string; peer: string; seq: number; failed: FailureReason; failed_rev: number }>`
        SELECT id, client_id, peer, seq, failed, failed_rev FROM messages
        WHERE failed_rev > ${after} AND failed_rev <= ${upto} AND rev <= ${after} ORDER BY failed_rev`
      .map((r) => ({ id: r.id, clientId: r.client_id, chat: r.peer, seq: r.seq, reason: r.failed, rev: r.failed_rev }));
    const groups = this.#db.all<GroupRow>`SELECT * FROM groups WHERE rev > ${after} AND rev <= ${upto} ORDER BY rev`.map(toMembership);
    return { messages: page.map((r) => this.#toMessage(r)), chats: chats.map((r) => this.#toChatState(r)), failures, groups, rev: upto, more };
  }

  /** A new device's start: the newest `limit` messages, every chat's state and every group. */
  recent(limit: number): { messages: Message[]; chats: ChatState[]; groups: GroupMembership[]; rev: number } {
    const rows = this.#db.all<MessageRow>`
      SELECT * FROM message_view m
      ORDER BY m.rev DESC LIMIT ${limit}`;
    const chats = this.#db.all<ChatRow>`SELECT * FROM chats ORDER BY rev DESC LIMIT 1000`;
    const groups = this.#db.all<GroupRow>`SELECT * FROM groups ORDER BY rev`.map(toMembership);
    return { messages: rows.reverse().map((r) => this.#toMessage(r)), chats: chats.map((r) => this.#toChatState(r)), groups, rev: this.#rev };
  }

  /** One page of a chat's history, oldest first, older than `before`. */
  history(peer: string, before: number | undefined, limit: number): { messages: Message[]; more: boolean } {
    const rows = this.#db.all<MessageRow>`
      SELECT * FROM message_view m
      WHERE m.peer = ${peer} AND m.rev < ${before ?? Number.MAX_SAFE_INTEGER}
      ORDER BY m.rev DESC LIMIT ${limit + 1}`;
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map((r) => this.#toMessage(r)), more };
  }

  // ---- groups ----------------------------------------------------------------------

  /** Records what a group object told me about my membership; true when something changed. */
  setGroup(membership: GroupMembership): boolean {
    const current = this.group(membership.group);
    if (current && current.name === membership.name && current.role === membership.role && current.active === membership.active) return false;
    const rev = this.#nextRev();
    this.#db.run`
      INSERT INTO groups (id, name, role, active, rev)
      VALUES (${membership.group}, ${membership.name}, ${membership.role}, ${membership.active ? 1 : 0}, ${rev})
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, active = excluded.active, rev = excluded.rev`;
    // This method is the table's only writer, so the copy stays true.
    this.#groups.set(membership.group, { ...membership });
    return true;
  }

  group(id: string): GroupMembership | undefined {
    let known = this.#groups.get(id);
    if (known === undefined) {
      const row = this.#db.one<GroupRow>`SELECT * FROM groups WHERE id = ${id}`;
      if (!row) return undefined;
      this.#groups.set(id, (known = toMembership(row)));
    }
    return { ...known };
  }

  // ---- devices -------------------------------------------------------------------

  /**
   * A device connected. At most `keep` device rows are kept: past it the
   * least recently seen are forgotten (a forgotten device that comes back
   * syncs from its own cursor like any other), so a client inventing a new
   * device id per connection cannot grow the table.
   */
  touchDevice(device: string, now: number, keep: number): void {
    this.#db.run`
      INSERT INTO devices (device, first_seen, last_seen) VALUES (${device}, ${now}, ${now})
      ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen`;
    this.#db.run`
      DELETE FROM devices WHERE device IN (SELECT device FROM devices ORDER BY last_seen DESC, device LIMIT -1 OFFSET ${keep})`;
  }

  deviceCount(): number {
    return this.#db.one<{ n: number }>`SELECT COUNT(*) AS n FROM devices`!.n;
  }

  setDeviceCursor(device: string, cursor: number): void {
    this.#db.run`UPDATE devices SET cursor = MAX(cursor, ${cursor}) WHERE device = ${device}`;
  }

  deviceCursor(device: string): number | undefined {
    return this.#db.one<{ cursor: number }>`SELECT cursor FROM devices WHERE device = ${device}`?.cursor;
  }

  #toChatState(row: ChatRow): ChatState {
    return toChatStateRaw(row, this.settings().readReceipts);
  }

  #toMessage(row: MessageRow): Message {
    const me = this.owner() ?? "";
    const outgoing = row.outgoing === 1;
    const message: Message = {
      id: row.id,
      chat: row.peer,
      from: outgoing ? me : row.peer,
      to: outgoing ? row.peer : me,
      seq: row.seq,
      clientId: row.client_id,
      text: row.text,
      sentAt: row.sent_at,
      rev: row.rev,
    };
    if (outgoing) {
      message.status = statusOf(row, this.settings().readReceipts);
      if (row.failed) message.failReason = row.failed as FailureReason;
    }
    return message;
  }
}

function statusOf(row: MessageRow, showRead: boolean): MessageStatus {
  if (row.failed) return "failed";
  if (showRead && row.seq <= row.read) return "read";
  if (row.seq <= row.delivered) return "delivered";
  return "sent";
}

type GroupRow = { id: string; name: string; role: GroupRole; active: number; rev: number };

function toMembership(row: GroupRow): GroupMembership {
  return { group: row.id, name: row.name, role: row.role, active: row.active === 1 };
}

function toChatStateRaw(row: ChatRow, showRead: boolean): ChatState {
  return {
    chat: row.peer,
    delivered: row.delivered,
    // Read receipts off: I neither send nor see blue ticks.
    read: showRead ? row.read : 0,
    readByMe: row.read_by_me,
    lastIn: row.last_in,
    lastOut: row.last_out,
    rev: row.rev,
  };
}
