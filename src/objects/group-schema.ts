/** The group object's schema, as numbered steps (see lib/migrations.ts). */
export const GROUP_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;

  -- Current and former members. A member sees the log after joined_seq and,
  -- once gone, up to left_seq. One delivered and one read watermark each:
  -- receipts cost O(members), not O(members x messages).
  CREATE TABLE members (
    user       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    joined_seq INTEGER NOT NULL,
    joined_at  INTEGER NOT NULL,
    left_seq   INTEGER,
    delivered  INTEGER NOT NULL,
    read       INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- MIN() over current members through an index, not a scan per receipt.
  CREATE INDEX members_by_delivered ON members (delivered) WHERE left_seq IS NULL;
  CREATE INDEX members_by_read ON members (read) WHERE left_seq IS NULL;

  -- The group's log: the one copy of each message body.
  CREATE TABLE messages (
    seq       INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    sender    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    text      TEXT NOT NULL,
    sent_at   INTEGER NOT NULL,
    event     TEXT, -- JSON GroupEvent for system messages
    UNIQUE (sender, client_id)
  );

  -- When each member's watermarks moved (the last 64 moves per member and
  -- kind), for "message info" times.
  CREATE TABLE receipt_marks (
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    upto INTEGER NOT NULL,
    at   INTEGER NOT NULL,
    PRIMARY KEY (user, kind, upto)
  ) WITHOUT ROWID;

  -- Messages whose fan-out to members' objects has not finished.
  CREATE TABLE fanout (seq INTEGER PRIMARY KEY);

  -- Per-member retry queue: members whose object must still be told the
  -- messages in (after_seq, upto_seq] and/or their membership.
  CREATE TABLE member_queue (
    user       TEXT PRIMARY KEY,
    after_seq  INTEGER NOT NULL,
    upto_seq   INTEGER NOT NULL,
    membership INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX member_queue_by_due ON member_queue (next_at);

  -- Senders still to be told the group-wide receipt watermarks.
  CREATE TABLE receipt_queue (
    user     TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- Membership news that ran out of attempts, as the time to tell it again
  -- (0: nothing owed). It does not hold up the member's messages: the next
  -- push to the member carries it, a call from their object sends it, and
  -- the alarm tries again at this time, since their object cannot show the
  -- group without it.
  ALTER TABLE members ADD COLUMN membership_retry_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX members_membership_retry ON members (membership_retry_at) WHERE membership_retry_at > 0;
  `,
];
