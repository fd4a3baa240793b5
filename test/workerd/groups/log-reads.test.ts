/**
 * The group store keeps its newest log entries in memory for the fan-out.
 * Whatever range a caller asks for, the answer is the one the stored log
 * gives: entries in memory, entries only on disk, and ranges across both.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GroupObject } from "../../../src/objects/group";
import { GroupStore } from "../../../src/objects/group-store";
import { groupStub, newGroupId } from "./support";

describe("reading a range of the group's log", () => {
  it("gives the stored entries, whether they are among the newest kept in memory or not", async () => {
    await runInDurableObject(groupStub(newGroupId()), (_instance: GroupObject, state) => {
      const store = new GroupStore(state.storage);
      store.create("g_test", "Log", "ann", 1);
      for (let i = 1; i <= 300; i++) store.append(i % 2 ? "ann" : "bob", `c${i}`, `message ${i}`, 1_000 + i);
      // A second store over the same storage has nothing in memory: it reads SQLite.
      const fromDisk = new GroupStore(state.storage);
      const ranges: [number, number, number][] = [
        [0, 300, 500], // all of it, most not in memory
        [10, 60, 200], // only on disk
        [40, 120, 200], // across the edge of what is kept (the newest 256: 45..300)
        [44, 50, 3], // from the first kept entry, limited
        [200, 300, 200], // only in memory
        [290, 300, 5], // limited, in memory
        [299, 300, 10], // the newest
        [300, 300, 10], // nothing after the head
      ];
      for (const [after, upto, limit] of ranges) {
        const expected = fromDisk.between(after, upto, limit);
        expect(store.between(after, upto, limit), `(${after}, ${upto}] limit ${limit}`).toEqual(expected);
        expect(expected.map((m) => m.seq)).toEqual(
          Array.from({ length: Math.max(0, Math.min(upto, after + limit) - after) }, (_, i) => after + 1 + i),
        );
      }
    });
  });
});
