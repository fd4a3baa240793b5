/**
 * The activity reporter on a simulated clock: a user who keeps acting is
 * never shown offline between two reports, whatever their rhythm, while
 * reports stay throttled (the presence flicker of issue 13).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ActivityReporter, nextReportAt, type ReportTiming } from "../../src/objects/activity-reporter";

/** The defaults: wrangler.toml's PRESENCE_WRITE_INTERVAL_MS and PRESENCE_ONLINE_MS, user-presence.ts's delays. */
const TIMING: ReportTiming = { writeIntervalMs: 10_000, onlineMs: 15_000, delayMs: 100, marginMs: 1_000 };
/** A slow call from the user's object to its shard; the margin must cover it. */
const CALL_MS = 300;

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

interface Report {
  arrivesAt: number;
  activeAt: number;
}

/** Acts every `everyMs` for `forMs`, and returns the reports the shard received. */
function actEvery(everyMs: number, forMs: number): Report[] {
  const reports: Report[] = [];
  const reporter = new ActivityReporter(TIMING, (activeAt) => reports.push({ arrivesAt: Date.now() + CALL_MS, activeAt }));
  for (let t = 0; t <= forMs; t += everyMs) {
    vi.setSystemTime(t);
    reporter.activity(t);
    vi.advanceTimersByTime(Math.min(everyMs, forMs - t + 1));
  }
  vi.advanceTimersByTime(TIMING.onlineMs);
  return reports;
}

/** Whether the shard shows the user online at `t`: it has a report whose activity is under onlineMs old. */
function onlineAt(reports: Report[], t: number): boolean {
  return reports.some((r) => r.arrivesAt <= t && r.activeAt > t - TIMING.onlineMs);
}

describe("activity reports", () => {
  for (const everyMs of [1_000, 5_000, 8_000, 10_000, 12_000, 14_000]) {
    it(`keep a user acting every ${everyMs / 1000} s online at every moment for two minutes`, () => {
      const reports = actEvery(everyMs, 120_000);
      const lastActivity = Math.floor(120_000 / everyMs) * everyMs;
      const offline: number[] = [];
      for (let t = reports[0]!.arrivesAt; t < lastActivity + TIMING.onlineMs - TIMING.marginMs; t += 10) if (!onlineAt(reports, t)) offline.push(t);
      expect(offline).toEqual([]);
    });
  }

  it("stay throttled: a user acting every second sends one report per interval", () => {
    const reports = actEvery(1_000, 120_000);
    const sent = reports.map((r) => r.arrivesAt - CALL_MS);
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(TIMING.writeIntervalMs);
    expect(reports.length).toBeLessThanOrEqual(120_000 / TIMING.writeIntervalMs + 1);
  });

  it("carry the newest activity, and the last one reaches the shard however long after the interval it came", () => {
    const reports = actEvery(8_000, 40_000);
    expect(reports.at(-1)!.activeAt).toBe(40_000);
  });

  it("start afresh after the user went offline: the next activity is reported after the short delay", () => {
    const reports: number[] = [];
    const reporter = new ActivityReporter(TIMING, (activeAt) => reports.push(activeAt));
    reporter.activity(0);
    vi.advanceTimersByTime(TIMING.delayMs);
    reporter.activity(1_000);
    reporter.reset();
    vi.advanceTimersByTime(TIMING.writeIntervalMs);
    expect(reports).toEqual([0]);
    vi.setSystemTime(20_000);
    reporter.activity(20_000);
    vi.advanceTimersByTime(TIMING.delayMs);
    expect(reports).toEqual([0, 20_000]);
  });
});

describe("nextReportAt", () => {
  it("waits the short delay for a first report, and the interval after one", () => {
    expect(nextReportAt(5_000, undefined, TIMING)).toBe(5_100);
    expect(nextReportAt(12_000, { sentAt: 10_000, activeAt: 10_000 }, TIMING)).toBe(20_000);
    // Past the last report's lapse margin already: at once, without the delay.
    expect(nextReportAt(24_500, { sentAt: 10_000, activeAt: 10_000 }, TIMING)).toBe(24_500);
  });

  it("goes early when the last report carried old activity and would lapse inside the interval", () => {
    // The last report (sent at 20 s) carried activity from 11 s: it lapses at 26 s, before 30 s.
    expect(nextReportAt(21_000, { sentAt: 20_000, activeAt: 11_000 }, TIMING)).toBe(25_000);
  });
});
