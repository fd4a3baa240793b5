/**
 * The call limiter behind the group's fan-out lanes: lanes start calls at
 * different times, and at most FANOUT_CONCURRENCY may be out at once.
 */
import { describe, expect, it } from "vitest";
import { Slots } from "../../../src/objects/lib/slots";

/** A task the test finishes by hand. */
function gate(): { promise: Promise<void>; open: () => void; fail: () => void } {
  let open!: () => void;
  let fail!: () => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = () => reject(new Error("failed"));
  });
  return { promise, open, fail };
}

describe("call slots", () => {
  it("runs at most the limit at once, and starts waiting tasks in the order they came", async () => {
    const slots = new Slots(2);
    const gates = Array.from({ length: 4 }, gate);
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      slots.run(() => {
        started.push(i);
        return g.promise;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    gates[1]!.open();
    await runs[1];
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    await runs[0];
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.open();
    gates[3]!.open();
    await Promise.all(runs);
  });

  it("frees the slot of a task that fails, and passes its error on", async () => {
    const slots = new Slots(1);
    const first = gate();
    const failing = slots.run(() => first.promise);
    let secondRan = false;
    const second = slots.run(async () => {
      secondRan = true;
    });
    first.fail();
    await expect(failing).rejects.toThrow("failed");
    await second;
    expect(secondRan).toBe(true);
  });

  it("starts a task at once with runNow, past the limit, and holds waiting tasks until fewer than the limit run", async () => {
    const slots = new Slots(2);
    const gates = Array.from({ length: 4 }, gate);
    const started: number[] = [];
    const task = (i: number) => () => {
      started.push(i);
      return gates[i]!.promise;
    };
    const now = [slots.runNow(task(0)), slots.runNow(task(1)), slots.runNow(task(2))];
    const waiting = slots.run(task(3));
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    // Three running against a limit of two: one finishing leaves two, still no room.
    gates[0]!.open();
    await now[0];
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.open();
    await now[1];
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.open();
    gates[3]!.open();
    await Promise.all([...now, waiting]);
    // Every slot is free again: two tasks start at once.
    const after = [gate(), gate()];
    const both: number[] = [];
    const runs = after.map((g, i) => slots.run(() => (both.push(i), g.promise)));
    await Promise.resolve();
    expect(both).toEqual([0, 1]);
    for (const g of after) g.open();
    await Promise.all(runs);
  });
});
