/**
 * Load shedding decisions: which work runs, waits or is dropped at each load
 * level, and how an object's in-flight work becomes a level.
 */
import { describe, expect, it } from "vitest";
import { LoadMonitor, Priority, shedDecision, type LoadLevel, type ShedDecision } from "../../../src/objects/lib/load";

const LEVELS: LoadLevel[] = ["normal", "busy", "overloaded"];
/** Highest priority first. */
const PRIORITIES: Priority[] = [Priority.Message, Priority.DeliveryReceipt, Priority.ReadReceipt, Priority.Ephemeral];
const NAMES = ["messages", "delivery receipts", "read receipts", "presence and typing"];
const SEVERITY: Record<ShedDecision, number> = { run: 0, defer: 1, drop: 2 };

describe("shedDecision", () => {
  it.each([
    // priority, normal, busy, overloaded
    [Priority.Message, "run", "run", "run"],
    [Priority.DeliveryReceipt, "run", "run", "defer"],
    [Priority.ReadReceipt, "run", "run", "defer"],
    [Priority.Ephemeral, "run", "drop", "drop"],
  ] as const)("treats priority %i as %s / %s / %s when normal / busy / overloaded", (priority, normal, busy, overloaded) => {
    expect(LEVELS.map((level) => shedDecision(priority, level))).toEqual([normal, busy, overloaded]);
  });

  it("runs everything when the load is normal", () => {
    for (const priority of PRIORITIES) expect(shedDecision(priority, "normal")).toBe("run");
  });

  it("always runs messages and their acks, however loaded", () => {
    for (const level of LEVELS) expect(shedDecision(Priority.Message, level)).toBe("run");
  });

  it("sheds the lowest classes first: a class is never treated worse than a lower one", () => {
    for (const level of LEVELS) {
      const severities = PRIORITIES.map((p) => SEVERITY[shedDecision(p, level)]);
      for (let i = 1; i < severities.length; i++) {
        expect(severities[i], `${NAMES[i]} vs ${NAMES[i - 1]} when ${level}`).toBeGreaterThanOrEqual(severities[i - 1]!);
      }
    }
  });

  it("never gets kinder as the load rises", () => {
    for (const priority of PRIORITIES) {
      const severities = LEVELS.map((level) => SEVERITY[shedDecision(priority, level)]);
      expect([...severities].sort()).toEqual(severities);
    }
  });

  it("defers receipts rather than dropping them: they are state the peer must eventually learn", () => {
    for (const level of LEVELS) {
      expect(shedDecision(Priority.DeliveryReceipt, level)).not.toBe("drop");
      expect(shedDecision(Priority.ReadReceipt, level)).not.toBe("drop");
    }
  });
});

describe("LoadMonitor", () => {
  function monitor(): LoadMonitor {
    return new LoadMonitor({ busyAt: 2, overloadedAt: 4 });
  }

  it("rises from normal to busy to overloaded as work piles up, and falls back as it ends", () => {
    const load = monitor();
    const levels: LoadLevel[] = [load.level(0)];
    for (let i = 0; i < 4; i++) {
      load.begin();
      levels.push(load.level(0));
    }
    for (let i = 0; i < 4; i++) {
      load.end();
      levels.push(load.level(0));
    }
    expect(levels).toEqual(["normal", "normal", "busy", "busy", "overloaded", "busy", "busy", "normal", "normal"]);
    expect(load.inFlight).toBe(0);
  });

  it("never counts below zero, so a stray end does not hide later work", () => {
    const load = monitor();
    load.end();
    load.end();
    expect(load.inFlight).toBe(0);
    load.begin();
    load.begin();
    expect(load.level(0)).toBe("busy");
  });

  it("stays overloaded for a while after the platform says so, then recovers by itself", () => {
    const load = monitor();
    load.platformOverloaded(1_000, 500);
    expect(load.level(1_000)).toBe("overloaded");
    expect(load.level(1_499)).toBe("overloaded");
    expect(load.level(1_500)).toBe("normal");
  });

  it("keeps the later of two overload windows", () => {
    const load = monitor();
    load.platformOverloaded(1_000, 2_000);
    load.platformOverloaded(1_500, 100);
    expect(load.level(2_999)).toBe("overloaded");
    expect(load.level(3_000)).toBe("normal");
  });
});
