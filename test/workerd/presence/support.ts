/**
 * Helpers for the presence tests inside workerd: a user's presence shard and
 * its stored row (written behind the reports: wait for it), a count of the
 * rows written to it, and two users who already have a one-to-one chat.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { intVar } from "../../../src/config";
import { presenceShardName } from "../../../src/objects/lib/shard";
import { DEFAULT_PRESENCE_SHARDS, type PresenceObject } from "../../../src/objects/presence";
import type { PresenceFrame } from "../../../src/protocol";
import type { UserObject } from "../../../src/objects/user";
import { type Account, type Client, connectReady, outboxOf, register, userStub, waitUntil } from "../helpers";

export const SHARDS = intVar(env.PRESENCE_SHARDS, DEFAULT_PRESENCE_SHARDS);

export function shardOf(user: string): DurableObjectStub<PresenceObject> {
  return env.PRESENCE.getByName(presenceShardName(user, SHARDS));
}

export type ShardRow = {
  user: string;
  last_seen: number | null;
  online: number;
  visibility: string;
};

/** The user's row in their presence shard, as stored. */
export function shardRow(user: string): Promise<ShardRow | undefined> {
  return runInDurableObject(shardOf(user), (_instance: PresenceObject, state) =>
    state.storage.sql.exec<ShardRow>("SELECT user, last_seen, online, visibility FROM presence WHERE user = ?", user).toArray()[0],
  );
}

/** Who the shard will push the user's changes to. */
export function subscribersOf(user: string): Promise<string[]> {
  return runInDurableObject(shardOf(user), (_instance: PresenceObject, state) =>
    state.storage.sql
      .exec<{ subscriber: string }>("SELECT subscriber FROM subscriptions WHERE watched = ? ORDER BY subscriber", user)
      .toArray()
      .map((r) => r.subscriber),
  );
}

/**
 * Starts counting the rows written for `user` in their shard's presence
 * table (SQLite triggers log every insert and update). Returns a reader.
 */
export async function countShardWrites(user: string): Promise<() => Promise<number>> {
  const shard = shardOf(user);
  await runInDurableObject(shard, (_instance: PresenceObject, state) => logPresenceWrites(state.storage.sql));
  return () =>
    runInDurableObject(shard, (_instance: PresenceObject, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM test_presence_writes WHERE user = ?", user).one().n,
    );
}

/** From now on, every row inserted or updated in the shard's presence table adds its user to `test_presence_writes`. */
export function logPresenceWrites(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS test_presence_writes (user TEXT NOT NULL)");
  sql.exec(`CREATE TRIGGER IF NOT EXISTS test_presence_inserted AFTER INSERT ON presence
    BEGIN INSERT INTO test_presence_writes (user) VALUES (NEW.user); END`);
  sql.exec(`CREATE TRIGGER IF NOT EXISTS test_presence_updated AFTER UPDATE ON presence
    BEGIN INSERT INTO test_presence_writes (user) VALUES (NEW.user); END`);
}

/** Waits until the user's object holds this many open sockets (a closed one has been handled). */
export async function waitForSockets(user: string, count: number): Promise<void> {
  await waitUntil(
    () => runInDurableObject(userStub(user), (_instance: UserObject, state) => state.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN).length === count),
    `${user} has ${count} open sockets`,
  );
}

/** Waits until the user's shard row satisfies `check`; returns it. */
export async function waitForRow(user: string, check: (row: ShardRow) => boolean, what: string): Promise<ShardRow> {
  let row: ShardRow | undefined;
  await waitUntil(async () => {
    row = await shardRow(user);
    return row !== undefined && check(row);
  }, what);
  return row!;
}

/**
 * Waits until the shard has written what it holds for the user (reports are
 * written behind, PRESENCE_FLUSH_MS later): its stored row says what the
 * shard answers. For users still online (an expired one answers offline
 * until the alarm writes it). Returns the row.
 */
export async function waitForFlush(user: string): Promise<ShardRow | undefined> {
  let row: ShardRow | undefined;
  await waitUntil(async () => {
    const [known] = await shardOf(user).query([user]);
    row = await shardRow(user);
    if (row === undefined) return known!.lastSeen === null && !known!.online;
    return row.last_seen === known!.lastSeen && row.online === (known!.online ? 1 : 0) && row.visibility === known!.visibility;
  }, `${user}'s shard has written what it holds`);
  return row;
}

/** Asks for one user's presence over the socket and returns the answer. */
export async function query(client: Client, user: string): Promise<PresenceFrame> {
  const ref = `q-${crypto.randomUUID()}`;
  client.send({ type: "presence.query", ref, users: [user] });
  return client.nextOf("presence", ref);
}

export async function subscribe(client: Client, user: string): Promise<PresenceFrame> {
  const ref = `s-${crypto.randomUUID()}`;
  client.send({ type: "presence.subscribe", ref, users: [user] });
  return client.nextOf("presence", ref);
}

/** Changes the user's settings and waits until their shard has the new visibility. */
export async function setLastSeen(client: Client, user: string, lastSeen: "everyone" | "contacts" | "nobody"): Promise<void> {
  client.send({ type: "settings.set", lastSeen });
  await client.next((f) => f.type === "settings" && f.lastSeen === lastSeen);
  await waitForRow(user, (row) => row.visibility === lastSeen, `${user}'s shard has visibility ${lastSeen}`);
}

export interface Pair {
  alice: Account;
  bob: Account;
  a: Client;
  b: Client;
}

/** Two users, both connected, with a one-to-one chat (alice wrote first, bob received it). */
export async function chatting(): Promise<Pair> {
  const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
  const [a, b] = await Promise.all([connectReady(alice), connectReady(bob)]);
  a.send({ type: "msg.send", ref: "hello", clientId: "hello", to: bob.user, text: "hello" });
  await a.nextOf("msg.sent", "hello");
  await b.nextOf("msg");
  await waitUntil(async () => (await outboxOf(alice.user)).length === 0, "alice's outbox is empty");
  return { alice, bob, a, b };
}

/** Two users who have never written to each other, both connected. */
export async function strangers(): Promise<Pair> {
  const [alice, bob] = await Promise.all([register("alice"), register("bob")]);
  const [a, b] = await Promise.all([connectReady(alice), connectReady(bob)]);
  return { alice, bob, a, b };
}
