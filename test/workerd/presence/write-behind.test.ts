/**
 * A presence shard writes reports behind: it holds them in memory, answers
 * from them at once, and writes every held report in one flush (one SQLite
 * commit) PRESENCE_FLUSH_MS later. A restart before the flush loses them.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { intVar } from "../../../src/config";
import { DEFAULT_ONLINE_MS, type PresenceObject, type PresenceReport } from "../../../src/objects/presence";
import { waitUntil } from "../helpers";
import { logPresenceWrites, type ShardRow } from "./support";

const ONLINE_MS = intVar(env.PRESENCE_ONLINE_MS, DEFAULT_ONLINE_MS);

/** A shard of its own: the shard stores whichever users are reported to it. */
function freshShard(): DurableObjectStub<PresenceObject> {
  return env.PRESENCE.getByName(`presence-test-${crypto.randomUUID()}`);
}

function storedRows(state: DurableObjectState): ShardRow[] {
  return state.storage.sql.exec<ShardRow>("SELECT user, last_seen, online, visibility FROM presence ORDER BY user").toArray();
}

/**
 * Reports, then restarts the shard as a crash would (memory lost, storage
 * kept) after the reports' own event has committed but before the flush.
 */
async function reportThenRestart(shard: DurableObjectStub<PresenceObject>, user: string, ...reports: PresenceReport[]): Promise<void> {
  const run = runInDurableObject(shard, async (instance: PresenceObject, state) => {
    for (const report of reports) await instance.report(user, report);
    // A write made by the reports themselves would commit while this waits. Timers
    // set in one event fire in order of due time, so 1 ms runs before the
    // flush (PRESENCE_FLUSH_MS, 5 in tests).
    await scheduler.wait(1);
    state.abort("restart before the flush");
  });
  await expect(run).rejects.toThrow("restart before the flush");
}

describe("the presence shard's write-behind", () => {
  it("writes several users' reports within the flush interval in one flush", async () => {
    const shard = freshShard();
    const users = ["ann", "ben", "cat", "dan"];
    const activeAt = Date.now();
    await runInDurableObject(shard, (_instance: PresenceObject, state) => logPresenceWrites(state.storage.sql));
    await runInDurableObject(shard, async (instance: PresenceObject, state) => {
      // Each user reports twice, all within one flush interval.
      await Promise.all(users.map((user) => instance.report(user, { activeAt })));
      await Promise.all(users.map((user) => instance.report(user, { activeAt: activeAt + 10 })));
      expect(storedRows(state)).toEqual([]);
    });

    // Each look is one event of the shard's, so it sees the flush's event wholly or not at all.
    let after = { rows: [] as ShardRow[], writes: 0, alarm: null as number | null };
    await waitUntil(async () => {
      after = await runInDurableObject(shard, async (_instance: PresenceObject, state) => ({
        rows: storedRows(state),
        writes: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM test_presence_writes").one().n,
        alarm: await state.storage.getAlarm(),
      }));
      return after.rows.length > 0;
    }, "the shard has flushed");

    // Every user at once, each row written once with both reports in it, and the expiry alarm armed.
    expect(after.rows).toEqual(users.map((user) => ({ user, last_seen: activeAt + 10, online: 1, visibility: "everyone" })));
    expect(after.writes).toBe(users.length);
    expect(after.alarm).toBe(activeAt + 10 + ONLINE_MS + 1);
  });

  it("answers a query right after a report from the report, before it is written", async () => {
    const shard = freshShard();
    const activeAt = Date.now();
    await runInDurableObject(shard, async (instance: PresenceObject, state) => {
      await instance.report("eve", { activeAt });
      expect(storedRows(state)).toEqual([]);
      expect(await instance.query(["eve"])).toEqual([{ user: "eve", online: true, lastSeen: activeAt, visibility: "everyone" }]);
      expect(await instance.subscribe("eve", "someone")).toEqual({ user: "eve", online: true, lastSeen: activeAt, visibility: "everyone" });

      // A second report builds on the held one, not on the (absent) stored row.
      await instance.report("eve", { offline: {} });
      expect(storedRows(state)).toEqual([]);
      expect(await instance.query(["eve"])).toEqual([{ user: "eve", online: false, lastSeen: activeAt, visibility: "everyone" }]);
    });
  });

  it("writes held reports when its alarm runs, before expiring users", async () => {
    const shard = freshShard();
    const longAgo = Date.now() - ONLINE_MS - 1_000;
    const rows = await runInDurableObject(shard, async (instance: PresenceObject, state) => {
      await instance.report("fay", { activeAt: longAgo });
      await instance.alarm();
      return storedRows(state);
    });
    expect(rows).toEqual([{ user: "fay", last_seen: longAgo, online: 0, visibility: "everyone" }]);
  });
});

describe("a restart before the flush", () => {
  it("loses an 'online' report: the user shows offline until their next report", async () => {
    const name = `presence-test-${crypto.randomUUID()}`;
    await reportThenRestart(env.PRESENCE.getByName(name), "gus", { activeAt: Date.now() });

    const restarted = env.PRESENCE.getByName(name);
    expect(await restarted.query(["gus"])).toEqual([{ user: "gus", online: false, lastSeen: null, visibility: "everyone" }]);
    expect(await runInDurableObject(restarted, (_instance: PresenceObject, state) => storedRows(state))).toEqual([]);

    const activeAt = Date.now();
    await restarted.report("gus", { activeAt });
    expect(await restarted.query(["gus"])).toEqual([{ user: "gus", online: true, lastSeen: activeAt, visibility: "everyone" }]);
  });

  it("loses an 'offline' report: the user shows online, last seen at the previous activity, until the online expiry", async () => {
    const name = `presence-test-${crypto.randomUUID()}`;
    const activeAt = Date.now();
    await env.PRESENCE.getByName(name).report("hal", { activeAt });
    await waitUntil(
      () => runInDurableObject(env.PRESENCE.getByName(name), (_instance: PresenceObject, state) => storedRows(state).length === 1),
      "hal's activity is written",
    );
    await reportThenRestart(env.PRESENCE.getByName(name), "hal", { offline: { lastSeen: activeAt + 50 } });

    const restarted = env.PRESENCE.getByName(name);
    expect(await restarted.query(["hal"])).toEqual([{ user: "hal", online: true, lastSeen: activeAt, visibility: "everyone" }]);
    // The alarm armed with the activity still ends it.
    expect(await runInDurableObject(restarted, (_instance: PresenceObject, state) => state.storage.getAlarm())).toBe(activeAt + ONLINE_MS + 1);
  });

  it("keeps a change of visibility: it is written before the report returns, with whatever else was held", async () => {
    const name = `presence-test-${crypto.randomUUID()}`;
    const activeAt = Date.now();
    await reportThenRestart(env.PRESENCE.getByName(name), "ida", { activeAt }, { visibility: "nobody" });

    const restarted = env.PRESENCE.getByName(name);
    expect(await restarted.query(["ida"])).toEqual([{ user: "ida", online: true, lastSeen: activeAt, visibility: "nobody" }]);
  });
});
