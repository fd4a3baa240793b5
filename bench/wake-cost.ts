/**
 * What the first message after idling costs, next to a warm one: latency,
 * the objects' cost counters, and (where `perf` is installed) workerd's CPU
 * time and file system calls per message. A profiling aid for the `connect`
 * scenario's budget line, not a scenario: it has no floor and no budget.
 *
 *   node_modules/.bin/node --import ./bench/resolve-ts.ts bench/wake-cost.ts [--pairs 60] [--persist-in /dev/shm] [--record cold.data]
 *
 * `--record FILE` samples workerd's stacks (`perf record -g`) during the cold
 * phase instead of counting, for `perf report -i FILE`.
 *
 * P pairs sign up and exchange one message each (so the chat exists), then
 * one warm message each, back to back; everyone idles past the hibernation
 * timeout (the objects are evicted, the sockets stay); then one message per
 * pair again (cold), and one more (warm). Each phase is measured on its own.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { BenchClient, mapLimit } from "./client";
import { serverOptions, startServer, type BenchServer } from "./server";
import { summarise } from "./stats";
import { PASSWORD } from "./target";

const IDLE_MS = 25_000;
const PERF_EVENTS = ["task-clock", "syscalls:sys_enter_fsync", "syscalls:sys_enter_pwrite64", "syscalls:sys_enter_pread64", "syscalls:sys_enter_openat"];

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

const pairs = Number(option("pairs") ?? 60);
serverOptions.persistRoot = option("persist-in") ?? serverOptions.persistRoot;
const hasPerf = spawnSync("perf", ["--version"]).status === 0;
const recordTo = option("record");

async function connectPairs(server: BenchServer): Promise<BenchClient[]> {
  const base = server.url.replace(/^http/, "ws");
  const tag = Date.now().toString(36);
  const users = Array.from({ length: 2 * pairs }, (_, i) => `w${tag}_${i}`);
  const accounts = await mapLimit(users, 8, async (username) => {
    const res = await fetch(`${server.url}/api/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    if (res.status !== 201) throw new Error(`register ${username}: ${res.status}`);
    return (await res.json()) as { user: string; token: string };
  });
  return mapLimit(accounts, 16, (a) => BenchClient.connect(`${base}/api/ws?token=${a.token}`, a.user));
}

let sent = 0;
/** One message from `from` to `to`; send -> recipient in ms. */
async function probe(from: BenchClient, to: BenchClient): Promise<number> {
  const clientId = `wake${sent++}`;
  const arrived = to.next((f) => f.type === "msg" && f.message.clientId === clientId, 15_000);
  const start = performance.now();
  from.send({ type: "msg.send", clientId, to: to.user, text: "are you there?" });
  await arrived;
  return performance.now() - start;
}

/** `perf stat` (or `perf record`) on workerd for the span of one phase; resolves with its counts. */
function perfStat(pid: number, recordFile?: string): { stop(): Promise<Map<string, number>> } {
  const args = recordFile ? ["record", "-g", "-F", "4999", "-o", recordFile] : ["stat", "-x", ",", "-e", PERF_EVENTS.join(",")];
  const child: ChildProcess = spawn("perf", [...args, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  let text = "";
  child.stderr!.on("data", (chunk) => (text += chunk));
  return {
    async stop() {
      child.kill("SIGINT");
      await new Promise((resolve) => child.once("exit", resolve));
      if (recordFile) return new Map();
      // CSV: value,unit,event,...
      return new Map(text.trim().split("\n").map((line) => line.split(",")).map((f) => [f[2]!.replace("syscalls:sys_enter_", ""), Number(f[0])]));
    },
  };
}

async function phase(name: string, server: BenchServer, clients: BenchClient[]): Promise<void> {
  const perf = hasPerf && server.pid ? perfStat(server.pid, name === "cold" ? recordTo : undefined) : undefined;
  if (perf) await new Promise((resolve) => setTimeout(resolve, 500)); // perf attaches
  await fetch(`${server.url}/api/debug/metrics/reset`, { method: "POST" });
  const latencies: number[] = [];
  for (let i = 0; i < pairs; i++) latencies.push(await probe(clients[2 * i]!, clients[2 * i + 1]!));
  const costs = (await (await fetch(`${server.url}/api/debug/metrics`)).json()) as Record<string, number>;
  const counts = await perf?.stop();
  const s = summarise(latencies);
  const per = (n: number) => (n / pairs).toFixed(2);
  const line = [`${name.padEnd(5)} p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`];
  line.push(`per message: ${["rowsWritten", "rowsRead", "rpcCalls", "alarmsSet"].map((k) => `${k} ${per(costs[k] ?? 0)}`).join(", ")}`);
  if (counts?.size) line.push(`workerd: CPU ${per(counts.get("task-clock") ?? 0)} ms, ${[...counts].filter(([k]) => k !== "task-clock").map(([k, v]) => `${k} ${per(v)}`).join(", ")}`);
  console.log(line.join("\n      "));
}

const server = await startServer({ vars: { BENCH_METRICS: "1", ENVIRONMENT: "development", LOGIN_RATE_PER_MIN: "1000000" } });
try {
  const clients = await connectPairs(server);
  for (let i = 0; i < pairs; i++) await probe(clients[2 * i]!, clients[2 * i + 1]!); // the chats exist
  console.log(`${pairs} pairs, storage under ${serverOptions.persistRoot}${hasPerf ? "" : " (no perf: latency and counters only)"}`);
  await phase("warm", server, clients);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  await phase("cold", server, clients);
  await phase("warm", server, clients);
  for (const c of clients) c.drop();
} finally {
  await server.stop();
}
