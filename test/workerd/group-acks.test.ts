/**
 * A member's acknowledgements of group messages on their way to the group:
 * watermarks, so a burst becomes one call (src/objects/group-acks.ts).
 */
import { describe, expect, it } from "vitest";
import { GroupAcks, type GroupAckKind } from "../../src/objects/group-acks";

type Call = [group: string, kind: GroupAckKind, upto: number];

/** Records the calls; each one stays out until `release()` when `hold` is set. */
function recorder(hold = false) {
  const calls: Call[] = [];
  const releases: (() => void)[] = [];
  const send = async (group: string, kind: GroupAckKind, upto: number) => {
    calls.push([group, kind, upto]);
    if (hold) await new Promise<void>((resolve) => releases.push(resolve));
  };
  return { calls, send, release: () => releases.shift()?.() };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await scheduler.wait(2);
  expect(check()).toBe(true);
}

describe("group acknowledgements from one member", () => {
  it("send a burst for one group as one call carrying the highest watermark", async () => {
    const { calls, send } = recorder();
    const acks = new GroupAcks(send, 5);
    for (const upto of [3, 1, 7, 5]) acks.add("g1", "delivered", upto);
    await until(() => calls.length > 0);
    await scheduler.wait(20);
    expect(calls).toEqual([["g1", "delivered", 7]]);
  });

  it("send read alone when it covers delivered, and both when delivered is ahead", async () => {
    const { calls, send } = recorder();
    const acks = new GroupAcks(send, 5);
    acks.add("covered", "delivered", 4);
    acks.add("covered", "read", 4);
    acks.add("ahead", "read", 2);
    acks.add("ahead", "delivered", 6);
    await until(() => calls.length === 3);
    expect(calls.filter((c) => c[0] === "covered")).toEqual([["covered", "read", 4]]);
    expect(calls.filter((c) => c[0] === "ahead")).toEqual([
      ["ahead", "read", 2],
      ["ahead", "delivered", 6],
    ]);
  });

  it("keep groups apart", async () => {
    const { calls, send } = recorder();
    const acks = new GroupAcks(send, 5);
    acks.add("g1", "delivered", 1);
    acks.add("g2", "delivered", 9);
    await until(() => calls.length === 2);
    expect(calls.sort()).toEqual([
      ["g1", "delivered", 1],
      ["g2", "delivered", 9],
    ]);
  });

  it("hold what arrives during a call for the next one, never two calls at once", async () => {
    const { calls, send, release } = recorder(true);
    const acks = new GroupAcks(send, 5);
    acks.add("g1", "delivered", 1);
    await until(() => calls.length === 1);
    acks.add("g1", "delivered", 2);
    acks.add("g1", "delivered", 3);
    await scheduler.wait(20);
    expect(calls).toHaveLength(1);
    release();
    await until(() => calls.length === 2);
    expect(calls[1]).toEqual(["g1", "delivered", 3]);
    release();
  });

  it("go on after a call that failed", async () => {
    let fail = true;
    const calls: Call[] = [];
    const acks = new GroupAcks(async (group, kind, upto) => {
      calls.push([group, kind, upto]);
      if (fail) throw new Error("overloaded");
    }, 5);
    acks.add("g1", "delivered", 1);
    await until(() => calls.length === 1);
    fail = false;
    acks.add("g1", "delivered", 2);
    await until(() => calls.length === 2);
    expect(calls[1]).toEqual(["g1", "delivered", 2]);
  });
});
