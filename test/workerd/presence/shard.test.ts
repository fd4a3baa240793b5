/**
 * Which presence shard holds a user: even spread, stable answers.
 */
import { describe, expect, it } from "vitest";
import { presenceShard, presenceShardName } from "../../../src/objects/lib/shard";

const SHARDS = 16;

function names(count: number, make: (i: number) => string): string[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

function histogram(users: string[], shards: number): number[] {
  const counts = new Array<number>(shards).fill(0);
  for (const user of users) counts[presenceShard(user, shards)]!++;
  return counts;
}

describe("presenceShard", () => {
  it.each([
    ["numbered names", (i: number) => `user_${i}`],
    ["names that differ only at the start", (i: number) => `${i.toString(36)}_same_suffix`],
    ["random names", () => `u_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`],
  ])("spreads 10,000 %s over 16 shards within 20%% of the mean", (_kind, make) => {
    const counts = histogram(names(10_000, make), SHARDS);
    const mean = 10_000 / SHARDS;
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual(mean * 0.8);
      expect(count).toBeLessThanOrEqual(mean * 1.2);
    }
  });

  it("gives the same user the same shard every time", () => {
    const users = names(1_000, (i) => `stable_${i}`);
    const first = users.map((u) => presenceShard(u, SHARDS));
    expect(users.map((u) => presenceShard(u, SHARDS))).toEqual(first);
  });

  it("is a fixed function of the name (FNV-1a), so every object agrees without coordination", () => {
    // Pinned values: a change of hash would move every user's last-seen to an empty shard.
    expect(presenceShard("alice", 1 << 30)).toBe(fnv1a("alice") % (1 << 30));
    expect(presenceShard("bob", SHARDS)).toBe(fnv1a("bob") % SHARDS);
  });

  it("always answers a shard in range, and shard 0 when there is one shard (or a bad count)", () => {
    for (const user of names(500, (i) => `range_${i}`)) {
      const shard = presenceShard(user, SHARDS);
      expect(Number.isInteger(shard) && shard >= 0 && shard < SHARDS).toBe(true);
      expect(presenceShard(user, 1)).toBe(0);
      expect(presenceShard(user, 0)).toBe(0);
    }
  });

  it("names the shard object after its number", () => {
    expect(presenceShardName("alice", SHARDS)).toBe(`presence-${presenceShard("alice", SHARDS)}`);
  });
});

/** An independent FNV-1a (32-bit) over UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 2166136261n;
  for (const unit of text) {
    hash ^= BigInt(unit.charCodeAt(0));
    hash = (hash * 16777619n) & 0xffffffffn;
  }
  return Number(hash);
}
