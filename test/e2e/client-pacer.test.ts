/** The SDK's frame pacer, on fake timers: order kept, burst at once, the rest at the rate. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FramePacer } from "../../src/client/pacer";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

// The pacer keeps to half the server's burst and 80 % of its rate: here 5 at once, then 8 per second.
const BUDGET = { frameBurst: 10, frameRatePerSec: 10 };

describe("the frame pacer", () => {
  it("writes half the burst at once and the rest in order at 80 % of the rate", () => {
    const written: string[] = [];
    const pacer = new FramePacer((text) => written.push(text), BUDGET);
    for (let i = 0; i < 9; i++) pacer.send(`f${i}`);
    expect(written).toEqual(["f0", "f1", "f2", "f3", "f4"]);
    expect(pacer.waiting).toBe(4);
    vi.advanceTimersByTime(125);
    expect(written).toHaveLength(6);
    vi.advanceTimersByTime(375);
    expect(written).toEqual(Array.from({ length: 9 }, (_, i) => `f${i}`));
    expect(pacer.waiting).toBe(0);
  });

  it("drops what waits when the socket is gone", () => {
    const written: string[] = [];
    const pacer = new FramePacer((text) => written.push(text), BUDGET);
    for (let i = 0; i < 8; i++) pacer.send(`f${i}`);
    pacer.clear();
    vi.advanceTimersByTime(10_000);
    expect(written).toHaveLength(5);
  });

  it("starts a budget other than the assumed one empty, since frames before hello counted against it", () => {
    const written: string[] = [];
    const pacer = new FramePacer((text) => written.push(text), BUDGET);
    pacer.setBudget({ frameBurst: 100, frameRatePerSec: 100 });
    pacer.send("after hello");
    expect(written).toEqual([]);
    vi.advanceTimersByTime(13);
    expect(written).toEqual(["after hello"]);
  });
});
