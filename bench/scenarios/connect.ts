/**
 * `connect`: N idle users connect and stay connected past the hibernation
 * timeout (their objects are evicted; the runtime keeps the sockets). Server
 * memory per connection (VmRSS of the server process), the connect rate, and
 * the latency of the first message after idling against a warm one.
 */
import { mapLimit, type BenchClient } from "../client";
import { runTag, sleep, until, type Progress, type Scenario } from "../scenario";
import { perSecond, summarise } from "../stats";
import type { TargetKind } from "../target";
import { closeAll, withTarget } from "./pairs";

export interface ConnectParams {
  users: number;
  /** Connections being opened at once. */
  concurrency: number;
  /** Users connected before waiting for the server's new objects to go idle (see FILES_SLACK). */
  wave: number;
  /** How long everyone stays idle: past the ~10 s after which an idle object hibernates. */
  idleSeconds: number;
  /** Pairs that exchange a message after the idle period (cold) and right after (warm). */
  probes: number;
}

interface Measured {
  connectMs: number[];
  connectPerSec: number;
  /** Time spent between waves waiting for new objects to release their files. */
  settlingMs: number;
  /** Server file descriptors per connection once all are connected and settled. */
  filesPerConnection: number;
  rss: { base: number; connected: number; idle: number; samples: [number, number][] };
  openAfterIdle: number;
  /** Connections whose first attempt got no `hello` in time and were opened again, as an app reconnects. */
  retried: number;
  cold: number[];
  warm: number[];
}

const MiB = 2 ** 20;
/** Descriptors a server has besides one per socket (listeners, logs, a few live objects). */
const FILES_SLACK = 200;
const SETTLE_MAX_MS = 60_000;

/** One message from `from` to `to`; resolves with send -> recipient (ms). */
async function probe(from: BenchClient, to: BenchClient, clientId: string): Promise<number> {
  const arrived = to.next((f) => f.type === "msg" && f.message.clientId === clientId, 15_000);
  const sentAt = performance.now();
  from.send({ type: "msg.send", clientId, to: to.user, text: "are you there?" });
  await arrived;
  return performance.now() - sentAt;
}

async function measure(kind: TargetKind, params: ConnectParams, progress: Progress): Promise<Measured> {
  return withTarget(kind, async (target) => {
    const tag = runTag();
    // Probe recipients receive one-to-one messages, so their accounts must exist;
    // idle users only connect, so they get tokens signed the gateway's way.
    const probeAccounts = await target.accounts(Array.from({ length: params.probes * 2 }, (_, i) => `c${tag}_p${i}`));
    const probes = await mapLimit(probeAccounts, 16, (a) => target.connect(a));
    for (let i = 0; i < params.probes; i++) await probe(probes[2 * i]!, probes[2 * i + 1]!, `w${tag}${i}`);
    const base = target.memory() ?? 0;

    progress.step(`  ${kind}: connecting ${params.users} idle users`);
    const idleAccounts = await target.accounts(Array.from({ length: params.users }, (_, i) => `c${tag}_${i}`), { register: false });
    const connectMs: number[] = [];
    const idle: BenchClient[] = [];
    let connectingMs = 0;
    let settlingMs = 0;
    let retried = 0;
    for (let from = 0; from < idleAccounts.length; from += params.wave) {
      const start = performance.now();
      const wave = await mapLimit(idleAccounts.slice(from, from + params.wave), params.concurrency, async (account) => {
        const t0 = performance.now();
        let client: BenchClient;
        try {
          client = await target.connect(account);
        } catch {
          // Counted and reported, not hidden: an app would simply reconnect.
          retried++;
          client = await target.connect(account);
        }
        connectMs.push(performance.now() - t0);
        progress.update(`  ${kind}: ${connectMs.length}/${params.users} connected`);
        return client;
      });
      idle.push(...wave);
      connectingMs += performance.now() - start;
      // workerd keeps a new object's SQLite files (3 descriptors) open until it
      // goes idle; the next wave waits for them so the process stays under its file limit.
      const settleStart = performance.now();
      await until(
        () => (target.openFiles() ?? 0) < idle.length + probes.length + FILES_SLACK,
        SETTLE_MAX_MS,
        () => progress.update(`  ${kind}: ${idle.length} connected, waiting for the server's files to close`),
        250,
      );
      settlingMs += performance.now() - settleStart;
    }
    const connectPerSec = perSecond(idle.length, connectingMs);
    const files = target.openFiles() ?? 0;
    const connected = target.memory() ?? 0;

    progress.step(`  ${kind}: idle for ${params.idleSeconds} s`);
    const samples: [number, number][] = [];
    const idleStart = performance.now();
    for (let s = 0; s < params.idleSeconds; s++) {
      await sleep(1_000);
      samples.push([Math.round((performance.now() - idleStart) / 1000), (target.memory() ?? 0) / MiB]);
      progress.update(`  ${kind}: idle ${s + 1}/${params.idleSeconds} s, server RSS ${Math.round(samples.at(-1)![1])} MiB`);
    }
    const idleRss = target.memory() ?? 0;
    const openAfterIdle = idle.filter((c) => c.open).length;

    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < params.probes; i++) {
      cold.push(await probe(probes[2 * i]!, probes[2 * i + 1]!, `c${tag}${i}`));
      warm.push(await probe(probes[2 * i]!, probes[2 * i + 1]!, `h${tag}${i}`));
    }
    progress.step(`  ${kind}: closing ${idle.length} sockets`);
    for (const c of idle) c.drop();
    await closeAll(probes);
    return { connectMs, connectPerSec, settlingMs, retried, filesPerConnection: files / params.users, rss: { base, connected, idle: idleRss, samples }, openAfterIdle, cold, warm };
  });
}

export const connect: Scenario<ConnectParams> = {
  name: "connect",
  summary: "N idle users held past the hibernation timeout: memory per connection, connect rate, first message after idling",
  defaults: { users: 10_000, concurrency: 64, wave: 2_500, idleSeconds: 20, probes: 20 },
  smoke: { users: 20, concurrency: 8, wave: 10, idleSeconds: 1, probes: 2 },
  async run(params, progress) {
    const floor = await measure("floor", params, progress);
    const ours = await measure("edgechat", params, progress);
    const perConn = (m: Measured, at: "connected" | "idle") => (m.rss[at] - m.rss.base) / params.users / 1024;
    const ratioColdWarm = (m: Measured) => summarise(m.cold).p50 / summarise(m.warm).p50;
    const row = (metric: string, unit: string, pick: (m: Measured) => number) => ({ metric, unit, edgechat: pick(ours), floor: pick(floor) });
    return {
      scenario: "connect",
      params: { ...params },
      rows: [
        row("connect rate (within waves)", "conn/s", (m) => m.connectPerSec),
        row("waiting between waves for files to close", "ms", (m) => m.settlingMs),
        row("server file descriptors per connection", "fds", (m) => m.filesPerConnection),
        row("connect (upgrade -> hello) p50", "ms", (m) => summarise(m.connectMs).p50),
        row("connect p99", "ms", (m) => summarise(m.connectMs).p99),
        row("connections opened a second time (no hello within 15 s)", "conns", (m) => m.retried),
        row("server RSS before", "MiB", (m) => m.rss.base / MiB),
        row("server RSS all connected", "MiB", (m) => m.rss.connected / MiB),
        row(`server RSS after ${params.idleSeconds} s idle`, "MiB", (m) => m.rss.idle / MiB),
        row("memory per connection, just connected", "KiB", (m) => perConn(m, "connected")),
        row("memory per connection, idle", "KiB", (m) => perConn(m, "idle")),
        row("sockets still open after idling", "sockets", (m) => m.openAfterIdle),
        row("first message after idling p50", "ms", (m) => summarise(m.cold).p50),
        row("first message after idling max", "ms", (m) => summarise(m.cold).max),
        row("warm message p50", "ms", (m) => summarise(m.warm).p50),
        row("first after idling / warm (p50)", "x", ratioColdWarm),
      ],
      distributions: [
        { name: "first message after idling (ms)", samples: { edgechat: ours.cold, floor: floor.cold } },
        { name: "warm message (ms)", samples: { edgechat: ours.warm, floor: floor.warm } },
        { name: "connect, upgrade -> hello (ms)", samples: { edgechat: ours.connectMs, floor: floor.connectMs } },
      ],
      budgets: [
        { name: "idle connected users on one machine", limit: ">= 10,000", measured: ours.openAfterIdle, met: ours.openAfterIdle >= 10_000 },
        { name: "first message after idling vs warm (p50)", limit: "<= 2x", measured: ratioColdWarm(ours), met: ratioColdWarm(ours) <= 2 },
      ],
      checks: [
        { name: "every idle socket stayed open", ok: ours.openAfterIdle === params.users, detail: `${ours.openAfterIdle}/${params.users}` },
        { name: "every probe message arrived", ok: ours.cold.length === params.probes && ours.warm.length === params.probes, detail: `${ours.cold.length + ours.warm.length}/${2 * params.probes}` },
      ],
      notes: [
        `RSS is the server process's VmRSS (/proc/<pid>/status): workerd for edgechat, the Node relay for the floor; samples during the idle period (s, MiB): ${ours.rss.samples.map(([t, m]) => `${t}:${Math.round(m)}`).join(" ")}`,
        "idle users connect with tokens signed the gateway's way (no sign-up: 100,000 PBKDF2 rounds each would dominate); probe users sign up",
        `users connect in waves of ${params.wave}: workerd keeps each new object's SQLite files open until it goes idle, and 3 descriptors per object would pass this machine's open-file limit before 10,000 sockets`,
      ],
    };
  },
};
