/**
 * The SDK under the server's limits: it paces its frames below the
 * per-socket frame budget and its sends below the user's send quota, and
 * when two devices share the quota and the server refuses some sends, every
 * message still arrives once, in the order it was typed on its device.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EdgechatClient, type Session, type WebSocketConstructor } from "../../src/client";
import { untilClients } from "./client-wait";
import { removeDir, startWorker, type RunningWorker } from "./harness";

const SEND_RATE = 10;
const SEND_BURST = 5;
const FRAME_RATE = 20;
const FRAME_BURST = 10;

let worker: RunningWorker;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  worker = await startWorker({
    vars: { SEND_RATE_PER_SEC: String(SEND_RATE), SEND_BURST: String(SEND_BURST), FRAME_RATE_PER_SEC: String(FRAME_RATE), FRAME_BURST: String(FRAME_BURST) },
  });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await worker?.stop();
  if (worker) removeDir(worker.persistDir);
});

function signUp(prefix: string): Promise<Session> {
  return EdgechatClient.register(worker.url, `${prefix}_${Math.random().toString(36).slice(2, 10)}`, "correct horse battery");
}

/** Node's WebSocket, recording how each socket of the client was closed. */
function closeRecordingWebSocket(closes: number[]): WebSocketConstructor {
  const Base = Reflect.get(globalThis, "WebSocket") as typeof WebSocket;
  return class extends Base {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("close", (event) => closes.push(event.code));
    }
  } as unknown as WebSocketConstructor;
}

function open(session: Session, device: string, closes: number[] = []): EdgechatClient {
  const client = new EdgechatClient({ url: worker.url, token: session.token, device, WebSocket: closeRecordingWebSocket(closes) });
  cleanups.push(() => client.close());
  return client;
}

function synced(...clients: EdgechatClient[]): Promise<void> {
  return untilClients("the clients synced", clients, () => clients.every((c) => c.status === "open" && c.rev !== undefined));
}

describe("the SDK under the server's limits", () => {
  it("sends a burst of messages far past the send quota without a refusal showing, in the order typed", async () => {
    const [alice, bob] = await Promise.all([signUp("alice"), signUp("bob")]);
    const a = open(alice, "phone");
    const b = open(bob, "laptop");
    await synced(a, b);
    const typed = Array.from({ length: 4 * SEND_BURST }, (_, i) => `message ${i}`);
    const sent = await Promise.all(typed.map((text) => a.send(bob.user, text)));
    expect(sent.map((m) => m.status)).not.toContain("failed");
    await untilClients("bob has every message", [b], () => (b.chat(alice.user)?.messages.length ?? 0) === typed.length, 30_000);
    expect(b.chat(alice.user)!.messages.map((m) => m.text)).toEqual(typed);
  });

  it("holds requests past the frame budget back instead of having the socket closed", async () => {
    const alice = await signUp("alice");
    const closes: number[] = [];
    const a = open(alice, "phone", closes);
    await synced(a);
    const answers = await Promise.all(Array.from({ length: 4 * FRAME_BURST }, () => a.getSettings()));
    expect(answers).toHaveLength(4 * FRAME_BURST);
    expect(closes).toEqual([]);
  });

  it("keeps each device's messages in the order they were typed when two devices share the quota and some sends are refused", async () => {
    const [alice, bob] = await Promise.all([signUp("alice"), signUp("bob")]);
    const phone = open(alice, "phone");
    const laptop = open(alice, "laptop");
    const b = open(bob, "tablet");
    await synced(phone, laptop, b);
    const count = 3 * SEND_BURST;
    const fromPhone = Array.from({ length: count }, (_, i) => `phone ${i}`);
    const fromLaptop = Array.from({ length: count }, (_, i) => `laptop ${i}`);
    // Both devices at once: together they pass the user's quota, so the server refuses some.
    const sent = await Promise.all([...fromPhone.map((t) => phone.send(bob.user, t)), ...fromLaptop.map((t) => laptop.send(bob.user, t))]);
    expect(sent.map((m) => m.status)).not.toContain("failed");
    await untilClients("bob has every message", [b], () => (b.chat(alice.user)?.messages.length ?? 0) === 2 * count, 30_000);
    const shown = b.chat(alice.user)!.messages.map((m) => m.text);
    expect(shown.filter((t) => t.startsWith("phone"))).toEqual(fromPhone);
    expect(shown.filter((t) => t.startsWith("laptop"))).toEqual(fromLaptop);
  });
});
