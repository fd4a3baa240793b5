/**
 * `reconnect`: N connected users drop at once (no close handshake, like a
 * network outage), messages arrive for them meanwhile, and all reconnect
 * together and `sync` from their cursors. Time until every one holds every
 * message it missed. The floor stores nothing, so for it this measures the
 * reconnect alone.
 */
import type { Message } from "../../src/protocol";
import { mapLimit, type BenchClient, type FrameOf } from "../client";
import { perUnit, runTag, until, type Progress, type Scenario } from "../scenario";
import { perSecond, summarise } from "../stats";
import type { Costs, TargetKind } from "../target";
import { closeAll, withTarget } from "./pairs";

export interface ReconnectParams {
  users: number;
  /** Messages each user receives while away. */
  missed: number;
  /** Connected users who write to the others while they are away. */
  writers: number;
  concurrency: number;
}

interface Measured {
  reconnectedMs: number;
  resyncedMs: number;
  perClientMs: number[];
  resynced: number;
  messagesSynced: number;
  syncPages: number;
  costs: Costs | undefined;
}

/** Reconnects one user, pages `sync` from its cursor, and counts the messages it missed. */
async function resync(client: BenchClient, cursor: number, expected: number, writers: Set<string>): Promise<{ got: number; pages: number }> {
  const ids = new Set<string>();
  const count = (m: Message) => {
    if (writers.has(m.from)) ids.add(m.id);
  };
  client.onFrame = (frame) => {
    if (frame.type === "msg") count(frame.message);
  };
  let after = cursor;
  let pages = 0;
  for (let more = true; more && pages < 100; pages++) {
    client.send({ type: "sync", ref: `s${pages}`, after });
    const page = await client.next<FrameOf<"sync.page">>((f) => f.type === "sync.page" && f.ref === `s${pages}`, 15_000);
    page.messages.forEach(count);
    const last = page.messages.at(-1);
    if (last && last.from !== client.user) client.send({ type: "receipt.delivered", chat: last.from, upto: last.seq });
    after = page.rev;
    more = page.more;
  }
  // A message still on its way between objects arrives live, as `msg`.
  await until(() => ids.size >= expected, 10_000);
  return { got: ids.size, pages };
}

async function measure(kind: TargetKind, params: ReconnectParams, progress: Progress): Promise<Measured> {
  return withTarget(kind, async (target) => {
    const tag = runTag();
    progress.step(`  ${kind}: signing up and connecting ${params.users} users and ${params.writers} writers`);
    const accounts = await target.accounts(Array.from({ length: params.users }, (_, i) => `r${tag}_${i}`));
    const writerAccounts = await target.accounts(Array.from({ length: params.writers }, (_, i) => `r${tag}_w${i}`), { register: false });
    const writers = await mapLimit(writerAccounts, 16, (a) => target.connect(a));
    let clients = await mapLimit(accounts, 64, (a) => target.connect(a, { autoDelivered: true }));
    const writerOf = (i: number) => writers[i % writers.length]!;

    // Each writer sends to its share of the users, 16 unacknowledged at a time.
    const write = async (round: string) => {
      await mapLimit(writers, writers.length, async (writer, w) => {
        const mine = accounts.filter((_, i) => i % writers.length === w);
        await mapLimit(mine, 16, async (account, i) => {
          const clientId = `${round}${tag}-${w}-${i}`;
          writer.send({ type: "msg.send", ref: clientId, clientId, to: account.user, text: "while you were away" });
          await writer.next((f) => (f.type === "msg.sent" && f.clientId === clientId) || (f.type === "error" && f.ref === clientId), 30_000);
        });
      });
    };
    // One message each first, so every user has a chat and a cursor.
    await write("a");
    await until(() => kind === "floor" || clients.every((c) => c.cursor > 0), 30_000);
    const cursors = clients.map((c) => c.cursor);

    progress.step(`  ${kind}: ${params.users} users drop; ${params.missed} messages each while away`);
    for (const c of clients) c.drop();
    for (let m = 0; m < params.missed; m++) await write(`m${m}`);
    await target.resetCosts();

    progress.step(`  ${kind}: ${params.users} users reconnect and sync`);
    const writerNames = new Set(writerAccounts.map((a) => a.user));
    const expected = kind === "floor" ? 0 : params.missed;
    const perClientMs: number[] = [];
    let reconnected = 0;
    let resynced = 0;
    let messagesSynced = 0;
    let syncPages = 0;
    let reconnectedAt = 0;
    const start = performance.now();
    clients = await mapLimit(accounts, params.concurrency, async (account, i) => {
      const client = await target.connect(account, { autoDelivered: true });
      if (++reconnected === accounts.length) reconnectedAt = performance.now();
      const { got, pages } = await resync(client, cursors[i]!, expected, writerNames);
      syncPages += pages;
      messagesSynced += got;
      if (got >= expected) {
        resynced++;
        perClientMs.push(performance.now() - start);
      }
      progress.update(`  ${kind}: ${reconnected}/${accounts.length} reconnected, ${resynced} resynced`);
      return client;
    });
    const resyncedMs = performance.now() - start;
    const costs = await target.costs();
    await closeAll([...clients, ...writers]);
    return { reconnectedMs: reconnectedAt - start, resyncedMs, perClientMs, resynced, messagesSynced, syncPages, costs };
  });
}

export const reconnect: Scenario<ReconnectParams> = {
  name: "reconnect",
  summary: "N clients drop at once and reconnect from their cursors: time until all are resynced",
  defaults: { users: 1_000, missed: 5, writers: 10, concurrency: 200 },
  smoke: { users: 6, missed: 2, writers: 2, concurrency: 6 },
  async run(params, progress) {
    const floor = await measure("floor", params, progress);
    const ours = await measure("edgechat", params, progress);
    const row = (metric: string, unit: string, pick: (m: Measured) => number | undefined) => ({ metric, unit, edgechat: pick(ours), floor: pick(floor) });
    return {
      scenario: "reconnect",
      params: { ...params },
      rows: [
        row(`all ${params.users} reconnected (hello)`, "ms", (m) => m.reconnectedMs),
        row("reconnect rate", "conn/s", (m) => perSecond(params.users, m.reconnectedMs)),
        row(`all resynced (${params.missed} missed messages each)`, "ms", (m) => m.resyncedMs),
        row("one client resynced p50", "ms", (m) => summarise(m.perClientMs).p50),
        row("one client resynced p99", "ms", (m) => summarise(m.perClientMs).p99),
        { metric: "messages recovered", unit: "msgs", edgechat: ours.messagesSynced },
        { metric: "sync pages", unit: "pages", edgechat: ours.syncPages },
      ],
      distributions: [{ name: "reconnect -> resynced, from the moment all dropped (ms)", samples: { edgechat: ours.perClientMs, floor: floor.perClientMs } }],
      costs: ours.costs && { per: "recovered message", count: ours.messagesSynced, totals: ours.costs, perUnit: perUnit(ours.costs, ours.messagesSynced) },
      budgets: [],
      checks: [
        { name: "every user resynced", ok: ours.resynced === params.users, detail: `${ours.resynced}/${params.users}` },
        { name: "every missed message recovered", ok: ours.messagesSynced === params.users * params.missed, detail: `${ours.messagesSynced}/${params.users * params.missed}` },
      ],
      notes: [`the floor keeps nothing for absent users: its figures are the reconnect alone, it recovers no message`, `${params.concurrency} connections opened at once`],
    };
  },
};
