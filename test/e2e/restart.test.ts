/**
 * Durability: what a sender saw acknowledged survives the worker stopping and
 * starting again on the same storage.
 */
import { afterEach, describe, expect, it } from "vitest";
import { removeDir, startWorker, type RunningWorker } from "./harness";
import { catchUp, expectType, is, register, sendText, socketPool, syncPage, type Client } from "./support";

const sockets = socketPool();
const running: RunningWorker[] = [];
afterEach(async () => {
  await sockets.closeAll();
  const dirs = new Set(running.map((w) => w.persistDir));
  await Promise.all(running.splice(0).map((w) => w.stop()));
  for (const dir of dirs) removeDir(dir);
});

async function start(persistDir?: string): Promise<RunningWorker> {
  const worker = await startWorker(persistDir === undefined ? {} : { persistDir });
  running.push(worker);
  return worker;
}

async function stop(worker: RunningWorker): Promise<void> {
  await sockets.closeAll();
  running.splice(running.indexOf(worker), 1);
  await worker.stop();
}

function sendMany(from: Client, to: string, count: number, label: string) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => expectType(await from.request({ type: "msg.send", clientId: `${label}-${i + 1}`, to, text: `${label} ${i + 1}` }), "msg.sent")),
  );
}

describe("a restart", () => {
  it("keeps every acknowledged message, exactly once, with its receipts", async () => {
    const first = await start();
    const [alice, bob] = await Promise.all([register(first, "alice"), register(first, "bob")]);
    const a = await sockets.open(first, alice.token);
    const b = await sockets.open(first, bob.token, { device: "phone" });
    await sendMany(a, bob.user, 5, "early");
    const { messages: early } = await catchUp(b, 0, 5);
    b.send({ type: "receipt.read", chat: alice.user, upto: 5 });
    await a.next(is("receipt", (f) => f.read === 5));
    const bobCursor = early[4]!.rev;
    await b.close();

    // Acknowledged, then the worker stops with deliveries possibly still on their way.
    const late = await sendMany(a, bob.user, 20, "late");
    const lastRev = Math.max(...late.map((s) => s.rev));
    await stop(first);

    const second = await start(first.persistDir);
    // Tokens stay valid: the signing secret did not change.
    const b2 = await sockets.open(second, bob.token, { device: "phone" });
    const { messages } = await catchUp(b2, bobCursor, 20);
    expect(messages.map((m) => m.clientId)).toEqual(late.map((s) => s.clientId));
    expect(messages.map((m) => m.id)).toEqual(late.map((s) => s.id));
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 6 + i));

    const a2 = await sockets.open(second, alice.token);
    expect(a2.hello.rev).toBeGreaterThanOrEqual(lastRev);
    const aliceLog = await syncPage(a2, 0);
    expect(aliceLog.more).toBe(false);
    expect(aliceLog.messages.map((m) => m.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(aliceLog.messages.slice(0, 5).every((m) => m.status === "read")).toBe(true);
    expect(aliceLog.messages.slice(5).every((m) => m.status === "sent")).toBe(true);

    // The log and the stream continue where they were; a resend from before the restart is still recognised.
    const resent = await sendText(a2, bob.user, "late 20", "late-20");
    expect(resent).toMatchObject({ duplicate: true, id: late[19]!.id });
    const next = await sendText(a2, bob.user, "after the restart");
    expect(next.seq).toBe(26);
    expect(next.rev).toBeGreaterThan(a2.hello.rev);
    expect((await b2.next(is("msg", (f) => f.message.seq === 26))).message.text).toBe("after the restart");
  });
});
