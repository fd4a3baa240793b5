/**
 * A large group over real sockets against the running worker: 200 members,
 * one socket each. Registering 200 users is the slow part, so the file
 * registers and connects them once; each test makes its own group of them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupInfo, GroupMessage, ServerFrame } from "../../src/protocol";
import { removeDir, startWorker, type RunningWorker } from "./harness";
import { connect, expectType, is, register, type Account, type Client } from "./support";

const MEMBERS = 200;
/** Registration hashes a password (PBKDF2): a few at a time keep the worker responsive. */
const REGISTER_CONCURRENCY = 8;
const CONNECT_CONCURRENCY = 25;
const FRAME_TIMEOUT_MS = 15_000;

async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await task(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface Member {
  account: Account;
  client: Client;
}

let worker: RunningWorker;
let members: Member[];

beforeAll(async () => {
  // Sign-ups are throttled per client address, and every user here comes from 127.0.0.1.
  worker = await startWorker({ vars: { LOGIN_RATE_PER_MIN: "100000" } });
  const accounts = await mapLimited(Array.from({ length: MEMBERS }), REGISTER_CONCURRENCY, (_, i) => register(worker, `gm${i}`));
  const clients = await mapLimited(accounts, CONNECT_CONCURRENCY, (account) => connect(worker, account.token));
  members = accounts.map((account, i) => ({ account, client: clients[i]! }));
});

afterAll(async () => {
  await Promise.all((members ?? []).map((m) => m.client.close()));
  await worker?.stop();
  if (worker) removeDir(worker.persistDir);
});

/** The first member creates a group of everyone and waits until every device has heard of it. */
async function groupOfAll(name: string): Promise<GroupInfo> {
  const [admin, ...others] = members;
  const created = await admin!.client.request({ type: "group.create", name, members: others.map((m) => m.account.user) }, FRAME_TIMEOUT_MS);
  const { info } = expectType(created, "group.created");
  expect(info.members).toHaveLength(MEMBERS);
  await Promise.all(members.map((m) => m.client.next(is("group.changed", (f) => f.membership.group === info.group && f.membership.active), FRAME_TIMEOUT_MS)));
  return info;
}

function pushesOf(client: Client, group: string): GroupMessage[] {
  return client.received.flatMap((f: ServerFrame) => (f.type === "group.msg" && f.message.group === group ? [f.message] : []));
}

function nextMessage(client: Client, group: string, seq: number): Promise<unknown> {
  return client.next(is("group.msg", (f) => f.message.group === group && f.message.seq === seq), FRAME_TIMEOUT_MS);
}

describe(`a group of ${MEMBERS} members`, () => {
  it("delivers one message to each other member exactly once, and the sender hears delivered, then read", async () => {
    const info = await groupOfAll("Everyone");
    const [admin, ...others] = members;
    const sent = expectType(await admin!.client.request({ type: "group.send", group: info.group, clientId: "hello-1", text: "hello, everyone" }), "group.sent");
    expect(sent).toMatchObject({ group: info.group, seq: info.head + 1, duplicate: false });

    await Promise.all(others.map((m) => nextMessage(m.client, info.group, sent.seq)));
    for (const m of others) m.client.send({ type: "group.delivered", group: info.group, upto: sent.seq });
    const delivered = await admin!.client.next(is("group.receipt", (f) => f.group === info.group && f.delivered >= sent.seq), FRAME_TIMEOUT_MS);
    expect(delivered.read).toBeLessThan(sent.seq);

    for (const m of others) m.client.send({ type: "group.read", group: info.group, upto: sent.seq });
    const read = await admin!.client.next(is("group.receipt", (f) => f.group === info.group && f.read >= sent.seq), FRAME_TIMEOUT_MS);
    expect(read).toEqual({ type: "group.receipt", group: info.group, delivered: sent.seq, read: sent.seq });

    for (const m of others) expect(pushesOf(m.client, info.group).filter((p) => p.id === sent.id)).toHaveLength(1);
    // The sender's own device is answered with group.sent, not pushed its own message.
    expect(pushesOf(admin!.client, info.group).filter((p) => p.id === sent.id)).toEqual([]);
  });

  it("gives members who were offline during the sends everything after their cursor through group.sync, once each and in order", async () => {
    const info = await groupOfAll("Catch-up");
    const [admin, ...others] = members;
    const away = others.slice(0, 50);
    const stayed = others.slice(50);
    // What each device has: the group's log up to its creation.
    const cursor = info.head;
    await Promise.all(away.map((m) => m.client.close()));

    const texts = ["first", "second", "third"];
    const sent = [];
    for (const [i, text] of texts.entries()) {
      sent.push(expectType(await admin!.client.request({ type: "group.send", group: info.group, clientId: `catch-up-${i}`, text }), "group.sent"));
    }
    const seqs = sent.map((s) => s.seq);
    await Promise.all(stayed.map((m) => Promise.all(seqs.map((seq) => nextMessage(m.client, info.group, seq)))));
    for (const m of stayed) expect(pushesOf(m.client, info.group).map((p) => p.seq).filter((s) => s > cursor)).toEqual(seqs);

    await mapLimited(away, CONNECT_CONCURRENCY, async (m) => {
      m.client = await connect(worker, m.account.token);
      const page = expectType(await m.client.request({ type: "group.sync", group: info.group, after: cursor }, FRAME_TIMEOUT_MS), "group.page");
      expect(page.messages.map((p) => [p.seq, p.text])).toEqual(seqs.map((seq, i) => [seq, texts[i]]));
      expect(page).toMatchObject({ group: info.group, more: false, head: seqs[seqs.length - 1] });
      // Nothing from while it was away comes again as a push.
      expect(pushesOf(m.client, info.group)).toEqual([]);
    });

    // The group's read watermark waited for them too.
    const last = seqs[seqs.length - 1]!;
    for (const m of others) m.client.send({ type: "group.read", group: info.group, upto: last });
    const read = await admin!.client.next(is("group.receipt", (f) => f.group === info.group && f.read >= last), FRAME_TIMEOUT_MS);
    expect(read).toMatchObject({ delivered: last, read: last });
  });
});
