/**
 * The per-user store's schema, as numbered steps (see lib/migrations.ts).
 *
 * One counter, `rev`, orders everything a user's devices must learn: each new
 * message takes the next rev, and so does each change to a chat's receipt
 * watermarks or a message's failure. A device that has seen up to rev N asks
 * for "everything after N".
 */
export const USER_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;

  -- One row per one-to-one chat. Each direction is a stream numbered by its
  -- sender (seq 1, 2, 3...), and receipts are watermarks on those numbers.
  CREATE TABLE chats (
    peer            TEXT PRIMARY KEY,
    last_out        INTEGER NOT NULL DEFAULT 0, -- last seq I sent
    last_in         INTEGER NOT NULL DEFAULT 0, -- last seq I received
    delivered       INTEGER NOT NULL DEFAULT 0, -- the peer has my messages up to
    read            INTEGER NOT NULL DEFAULT 0, -- the peer has read mine up to
    delivered_by_me INTEGER NOT NULL DEFAULT 0, -- my devices have theirs up to
    read_by_me      INTEGER NOT NULL DEFAULT 0, -- I have read theirs up to
    rev             INTEGER NOT NULL            -- last change of a receipt watermark (0: none yet)
  ) WITHOUT ROWID;
  CREATE INDEX chats_by_rev ON chats (rev);

  -- Inbox and sent messages alike; rev is this user's log position.
  CREATE TABLE messages (
    rev        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    peer       TEXT NOT NULL,
    outgoing   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    text       TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    failed     TEXT,    -- failure reason of my own message
    failed_rev INTEGER, -- the rev at which it failed
    UNIQUE (peer, outgoing, seq)
  );
  CREATE UNIQUE INDEX messages_by_client_id ON messages (client_id) WHERE outgoing = 1;
  CREATE INDEX messages_by_peer ON messages (peer, rev);
  CREATE INDEX messages_by_failed_rev ON messages (failed_rev) WHERE failed_rev IS NOT NULL;

  -- Messages with their chat's watermarks, from which a sent message's tick
  -- is derived (receipts are watermarks, not a row per message).
  CREATE VIEW message_view AS
    SELECT m.rev, m.id, m.peer, m.outgoing, m.seq, m.client_id, m.text, m.sent_at, m.failed,
           c.delivered, c.read
    FROM messages m JOIN chats c ON c.peer = m.peer;

  -- My messages the peer's object has not stored yet: the retry queue.
  CREATE TABLE outbox (
    rev        INTEGER PRIMARY KEY, -- messages.rev
    peer       TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    last_error TEXT
  );
  CREATE INDEX outbox_by_peer ON outbox (peer, rev);
  CREATE INDEX outbox_by_due ON outbox (next_at);

  -- Receipt watermarks still to be told to a peer (one row per peer, so
  -- many receipts coalesce into one call).
  CREATE TABLE receipt_outbox (
    peer      TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL,
    read      INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    next_at   INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Each device's sync cursor: the last rev it confirmed having.
  CREATE TABLE devices (
    device     TEXT PRIMARY KEY,
    cursor     INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- The groups I am or was in (the group object holds everything else).
  -- Changes take a rev so a reconnecting device learns of them in its sync.
  CREATE TABLE groups (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    role   TEXT NOT NULL,
    active INTEGER NOT NULL,
    rev    INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX groups_by_rev ON groups (rev);
  `,
  `
  -- Watermarks the happy path keeps in memory and writes only when the row is
  -- written anyway (or by the alarm's sweep), so a message costs no commit
  -- for them: how far the peer's object has stored my messages, and how far
  -- I have told the peer my own delivered/read watermarks. Behind the truth
  -- after a crash, never ahead of it: the sweep then repeats a hand-over or a
  -- receipt, which both sides take idempotently. Since this step, outbox and
  -- receipt_outbox hold only the queues whose first attempt failed.
  ALTER TABLE chats ADD COLUMN peer_has INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE chats ADD COLUMN told_delivered INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE chats ADD COLUMN told_read INTEGER NOT NULL DEFAULT 0;
  `,
];
