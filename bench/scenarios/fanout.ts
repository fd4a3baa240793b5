/**
 * `fanout`: one sender in a group of G members (200 and 1,024 by default),
 * every member connected and acknowledging like an app. Three phases per size:
 * - latency: one message at a time; send -> last member, and send -> each member;
 * - throughput: up to `window` messages not yet at every member; deliveries/s;
 * - offline: a share of the members closes, the sender writes, they reconnect
 *   and `group.sync` from their last seq; time until all caught up.
 */
import { mapLimit, type BenchClient, type FrameOf } from "../client";
import { perUnit, runTag, until, type Progress, type Row, type Scenario, type ScenarioResult } from "../scenario";
import { perSecond, summarise } from "../stats";
import type { Costs, Target, TargetKind } from "../target";
import { createGroup, GroupRun } from "./group-run";
import { closeAll, withTarget } from "./pairs";

export interface FanoutParams {
  sizes: number[];
  /** Latency phase: messages sent one at a time (for at most 30 s). */
  messages: number;
  /** Throughput phase: its length, and how many messages may be on their way at once. */
  seconds: number;
  window: number;
  /** Offline phase: the share of members that go away, and messages written meanwhile. */
  offlineShare: number;
  offlineMessages: number;
  textBytes: number;
}

interface SizeResult {
  size: number;
  lastMember: number[];
  perMember: number[];
  loadedLastMember: number[];
  deliveries: number;
  deliveriesPerSec: number;
  missing: number;
  costs?: Costs;
  offline?: { members: number; messages: number; allSyncedMs: number; perMemberMs: number[]; caughtUp: number; costs?: Costs };
}

/** The latency phase also ends after this, however many messages it sent. */
const LATENCY_PHASE_MAX_MS = 30_000;

async function measureSize(target: Target, clients: BenchClient[], size: number, params: FanoutParams, progress: Progress): Promise<SizeResult> {
  const tag = runTag();
  const members = clients.slice(0, size);
  const sender = members[0]!;
  progress.step(`  ${target.kind}: group of ${size}`);
  const { group, head } = await createGroup(sender, members, tag);
  const run = new GroupRun(group, members);
  // Membership news and the join events reach every member before timing starts.
  await until(() => members.slice(1).every((m) => (run.maxSeq.get(m.user) ?? 0) >= head), 60_000);
  const text = "x".repeat(params.textBytes);
  await target.resetCosts();

  const lastMember: number[] = [];
  let missing = 0;
  const latencyDeadline = performance.now() + LATENCY_PHASE_MAX_MS;
  for (let i = 0; i < params.messages && performance.now() < latencyDeadline; i++) {
    const latency = await run.send(sender, `l${tag}${i}`, text, 10_000);
    if (latency === undefined) missing++;
    else lastMember.push(latency);
    progress.update(`  ${target.kind} ${size}: latency ${i + 1}/${params.messages}`);
  }
  const perMember = run.perMember;
  run.perMember = [];

  // Throughput: keep `window` messages in flight until time or count runs out.
  const loadedLastMember: number[] = [];
  const before = run.deliveries;
  const start = performance.now();
  const deadline = start + params.seconds * 1000;
  let sent = 0;
  const maxMessages = Math.ceil((params.seconds * 200_000) / size);
  await mapLimit(Array.from({ length: params.window }), params.window, async () => {
    while (performance.now() < deadline && sent < maxMessages) {
      const latency = await run.send(sender, `t${tag}${sent++}`, text, 10_000);
      if (latency === undefined) missing++;
      else loadedLastMember.push(latency);
      progress.update(`  ${target.kind} ${size}: throughput, ${run.deliveries - before} deliveries`);
    }
  });
  const deliveries = run.deliveries - before;
  const result: SizeResult = {
    size,
    lastMember,
    perMember,
    loadedLastMember,
    deliveries,
    deliveriesPerSec: perSecond(deliveries, performance.now() - start),
    missing,
    costs: await target.costs(),
  };
  if (target.kind === "edgechat" && params.offlineShare > 0) {
    const { report, back } = await offline(target, run, members, params, tag, progress);
    result.offline = report;
    // The next group size reuses these users: hand back the live sockets.
    back.forEach((client, i) => (clients[i + 1] = client));
  }
  return result;
}

/**
 * Members 1..k go away, the sender writes, they come back and catch up with
 * `group.sync`. Returns the report and the members' new clients, in order.
 */
async function offline(
  target: Target,
  run: GroupRun,
  members: BenchClient[],
  params: FanoutParams,
  tag: string,
  progress: Progress,
): Promise<{ report: NonNullable<SizeResult["offline"]>; back: BenchClient[] }> {
  const away = members.slice(1, 1 + Math.max(1, Math.floor((members.length - 1) * params.offlineShare)));
  const sender = members[0]!;
  await closeAll(away);
  await target.resetCosts();
  let head = 0;
  for (let i = 0; i < params.offlineMessages; i++) {
    sender.send({ type: "group.send", ref: `o${tag}${i}`, clientId: `o${tag}${i}`, group: run.group, text: "while you were away" });
    const sentFrame = await sender.next<FrameOf<"group.sent">>((f) => f.type === "group.sent" && f.ref === `o${tag}${i}`, 10_000);
    head = sentFrame.seq;
  }
  progress.step(`  edgechat ${members.length}: ${away.length} members reconnect and sync ${params.offlineMessages} messages`);
  const start = performance.now();
  const perMemberMs: number[] = [];
  let caughtUp = 0;
  // Fresh tokens for the same users (signed as the gateway signs them).
  const accounts = await target.accounts(away.map((m) => m.user), { register: false });
  const reconnected = await mapLimit(accounts, 64, async (account) => {
    const client = await target.connect(account, { autoDelivered: true });
    let after = run.maxSeq.get(account.user) ?? 0;
    for (let page = 0; page < 100 && after < head; page++) {
      client.send({ type: "group.sync", ref: `s${page}`, group: run.group, after, limit: 200 });
      const got = await client.next<FrameOf<"group.page">>((f) => f.type === "group.page" && f.ref === `s${page}`, 10_000);
      after = Math.max(after, got.messages.at(-1)?.seq ?? after);
      if (got.messages.length > 0) client.send({ type: "group.delivered", group: run.group, upto: after });
      if (!got.more) break;
    }
    if (after >= head) {
      caughtUp++;
      perMemberMs.push(performance.now() - start);
    }
    progress.update(`  edgechat ${members.length}: ${caughtUp}/${away.length} caught up`);
    return client;
  });
  const allSyncedMs = performance.now() - start;
  const costs = await target.costs();
  return { report: { members: away.length, messages: params.offlineMessages, allSyncedMs, perMemberMs, caughtUp, costs }, back: reconnected };
}

async function measure(kind: TargetKind, params: FanoutParams, progress: Progress): Promise<SizeResult[]> {
  return withTarget(kind, async (target) => {
    const tag = runTag();
    const largest = Math.max(...params.sizes);
    progress.step(`  ${kind}: signing up and connecting ${largest} users`);
    const accounts = await target.accounts(Array.from({ length: largest }, (_, i) => `f${tag}_${i}`));
    const clients = await mapLimit(accounts, 32, (account) => target.connect(account, { autoDelivered: true }));
    const results: SizeResult[] = [];
    for (const size of params.sizes) results.push(await measureSize(target, clients, size, params, progress));
    await closeAll(clients);
    return results;
  });
}

export const fanout: Scenario<FanoutParams> = {
  name: "fanout",
  summary: "one sender, a group of G members: send -> last member, deliveries/s, offline members syncing",
  defaults: { sizes: [200, 1024], messages: 100, seconds: 5, window: 8, offlineShare: 0.5, offlineMessages: 20, textBytes: 100 },
  smoke: { sizes: [4], messages: 3, seconds: 1, window: 2, offlineShare: 0.5, offlineMessages: 3, textBytes: 100 },
  async run(params, progress) {
    const floor = await measure("floor", params, progress);
    const ours = await measure("edgechat", params, progress);
    const rows: Row[] = [];
    const result: ScenarioResult = { scenario: "fanout", params: { ...params }, rows, distributions: [], budgets: [], checks: [], notes: [] };
    params.sizes.forEach((size, i) => {
      const o = ours[i]!;
      const f = floor[i]!;
      const both = (metric: string, unit: string, pick: (r: SizeResult) => number) => rows.push({ metric: `[${size}] ${metric}`, unit, edgechat: pick(o), floor: pick(f) });
      both("send -> last member p50", "ms", (r) => summarise(r.lastMember).p50);
      both("send -> last member p99", "ms", (r) => summarise(r.lastMember).p99);
      both("send -> last member max", "ms", (r) => summarise(r.lastMember).max);
      both("send -> each member p50", "ms", (r) => summarise(r.perMember).p50);
      both("send -> each member p99", "ms", (r) => summarise(r.perMember).p99);
      both(`deliveries, ${params.window} messages in flight`, "deliveries/s", (r) => r.deliveriesPerSec);
      both("send -> last member under that load p99", "ms", (r) => summarise(r.loadedLastMember).p99);
      both("messages some member never got", "msgs", (r) => r.missing);
      if (o.offline) {
        rows.push({ metric: `[${size}] ${o.offline.members} offline members: all caught up`, unit: "ms", edgechat: o.offline.allSyncedMs });
        rows.push({ metric: `[${size}] offline member caught up p50`, unit: "ms", edgechat: summarise(o.offline.perMemberMs).p50 });
      }
      result.distributions.push({ name: `[${size}] send -> last member (ms)`, samples: { edgechat: o.lastMember, floor: f.lastMember } });
      result.distributions.push({ name: `[${size}] send -> each member (ms)`, samples: { edgechat: o.perMember, floor: f.perMember } });
      if (o.costs) {
        const per = perUnit(o.costs, o.deliveries + o.perMember.length);
        result.notes.push(`[${size}] cost per member delivery: ${Object.entries(per).map(([k, v]) => `${k} ${Number(v.toPrecision(3))}`).join(", ")}`);
      }
      if (o.offline?.costs) {
        const per = perUnit(o.offline.costs, o.offline.members * o.offline.messages);
        result.notes.push(`[${size}] offline phase, cost per message per returning member: ${Object.entries(per).map(([k, v]) => `${k} ${Number(v.toPrecision(3))}`).join(", ")}`);
      }
      result.checks.push({ name: `[${size}] every member got every message`, ok: o.missing === 0, detail: `${o.missing} messages missed some member` });
      if (o.offline) result.checks.push({ name: `[${size}] every offline member caught up`, ok: o.offline.caughtUp === o.offline.members, detail: `${o.offline.caughtUp}/${o.offline.members}` });
      if (size === 200) {
        const p99 = summarise(o.lastMember).p99;
        result.budgets.push({ name: "p99 send -> last of 200 members", limit: "<= 20 ms", measured: p99, met: p99 <= 20 });
        result.budgets.push({ name: "deliveries/s to 200 members", limit: ">= 15,000", measured: o.deliveriesPerSec, met: o.deliveriesPerSec >= 15_000 });
      }
    });
    const first = ours[0];
    if (first?.costs) {
      const count = first.deliveries + first.perMember.length;
      result.costs = { per: `member delivery (group of ${first.size})`, count, totals: first.costs, perUnit: perUnit(first.costs, count) };
    }
    result.notes.push("members acknowledge group.msg frames as the SDK does: one group.delivered with the highest seq, held 100 ms (GROUP_DELIVERED_HOLD_MS)");
    return result;
  },
};
