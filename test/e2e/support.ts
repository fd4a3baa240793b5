/**
 * Helpers for the end-to-end tests: accounts over HTTP, and WebSocket clients
 * (the `ws` package) that buffer every server frame so a test can await the
 * next one matching a predicate, with a timeout instead of a sleep.
 */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { WS_PROTOCOL, WS_TOKEN_PREFIX, type ClientFrame, type HelloFrame, type HttpErrorBody, type Message, type ServerFrame, type SyncPageFrame } from "../../src/protocol";
import type { RunningWorker } from "./harness";

export const PASSWORD = "correct horse battery staple";
const DEFAULT_TIMEOUT_MS = 5_000;

/** A username no other test uses: `prefix_` and random digits, at most 32 characters of [a-z0-9_]. */
export function freshName(prefix = "u"): string {
  const suffix = randomBytes(8).toString("hex");
  return `${prefix.slice(0, 15)}_${suffix}`;
}

export interface Account {
  user: string;
  token: string;
  expiresAt: number;
}

export function postJson(worker: RunningWorker, path: string, body: unknown): Promise<Response> {
  return fetch(`${worker.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** Registers a fresh user through POST /api/register. */
export async function register(worker: RunningWorker, prefix = "u", password = PASSWORD): Promise<Account> {
  const username = freshName(prefix);
  const res = await postJson(worker, "/api/register", { username, password });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Account;
}

export async function login(worker: RunningWorker, username: string, password = PASSWORD): Promise<Account> {
  const res = await postJson(worker, "/api/login", { username, password });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Account;
}

// ---- sockets -------------------------------------------------------------------

type FrameType = ServerFrame["type"];
export type FrameOf<K extends FrameType> = Extract<ServerFrame, { type: K }>;

/** A predicate for `next`: a frame of this type (and, optionally, with more in common). */
export function is<K extends FrameType>(type: K, where: (frame: FrameOf<K>) => boolean = () => true): (frame: ServerFrame) => frame is FrameOf<K> {
  return (frame): frame is FrameOf<K> => frame.type === type && where(frame as FrameOf<K>);
}

export interface Client {
  readonly hello: HelloFrame;
  /** Every frame received so far, in order (consumed or not). */
  readonly received: readonly ServerFrame[];
  readonly socket: WebSocket;
  /** Sends a frame; a string or buffer is sent as is (for malformed input). */
  send(frame: ClientFrame | string | Buffer): void;
  /** The oldest frame not yet taken by `next` that matches, waiting for one if none has arrived. */
  next<T extends ServerFrame>(predicate: (frame: ServerFrame) => frame is T, timeoutMs?: number): Promise<T>;
  next(predicate: (frame: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  /** Sends the frame with a fresh `ref` and awaits the reply carrying it (an answer or an error). */
  request(frame: ClientFrame, timeoutMs?: number): Promise<ServerFrame>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  device?: string;
  origin?: string;
  /** Extra request headers on the upgrade. */
  headers?: Record<string, string>;
  /** Send the token as the `bearer.` subprotocol instead of `?token=`. */
  tokenAs?: "query" | "subprotocol";
}

/** Why an upgrade was refused: the HTTP status and the `{ error }` body. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: HttpErrorBody | undefined,
  ) {
    super(`upgrade refused: ${status} ${JSON.stringify(body)}`);
  }
}

let refs = 0;

/** Opens a socket as the token's user and waits for `hello`. Rejects with UpgradeRefused on an HTTP answer. */
export async function connect(worker: RunningWorker, token: string | undefined, options: ConnectOptions = {}): Promise<Client> {
  const url = new URL(`${worker.url.replace(/^http/, "ws")}/api/ws`);
  const protocols = [WS_PROTOCOL];
  if (token !== undefined && options.tokenAs === "subprotocol") protocols.push(WS_TOKEN_PREFIX + token);
  else if (token !== undefined) url.searchParams.set("token", token);
  if (options.device !== undefined) url.searchParams.set("device", options.device);
  const socket = new WebSocket(url.toString(), protocols, { headers: options.headers ?? {}, ...(options.origin === undefined ? {} : { origin: options.origin }) });

  const received: ServerFrame[] = [];
  const unread: ServerFrame[] = [];
  const waiters = new Set<{ predicate: (frame: ServerFrame) => boolean; resolve: (frame: ServerFrame) => void }>();
  socket.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    received.push(frame);
    for (const waiter of waiters) {
      if (waiter.predicate(frame)) {
        waiters.delete(waiter);
        waiter.resolve(frame);
        return;
      }
    }
    unread.push(frame);
  });

  function next(predicate: (frame: ServerFrame) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ServerFrame> {
    const index = unread.findIndex(predicate);
    if (index >= 0) return Promise.resolve(unread.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (frame: ServerFrame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const recent = received.slice(-5).map((f) => JSON.stringify(f).slice(0, 200));
        reject(new Error(`no matching frame within ${timeoutMs} ms; last frames:\n${recent.join("\n")}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => {
        let body: HttpErrorBody | undefined;
        try {
          body = JSON.parse(text) as HttpErrorBody;
        } catch {
          body = undefined;
        }
        reject(new UpgradeRefused(res.statusCode ?? 0, body));
      });
    });
  });
  const hello = (await next(is("hello"))) as HelloFrame;

  return {
    hello,
    received,
    socket,
    send(frame) {
      socket.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
    },
    next: next as Client["next"],
    request(frame, timeoutMs) {
      const ref = `r${++refs}`;
      socket.send(JSON.stringify({ ...frame, ref }));
      return next((f) => "ref" in f && f.ref === ref, timeoutMs);
    },
    close() {
      if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close(1000);
      });
    },
  };
}

/** Opens sockets for a test and closes them all when it ends. */
export function socketPool(): { open: (...args: Parameters<typeof connect>) => Promise<Client>; closeAll: () => Promise<void> } {
  const open: Client[] = [];
  return {
    async open(...args) {
      const client = await connect(...args);
      open.push(client);
      return client;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((c) => c.close()));
    },
  };
}

// ---- requests ---------------------------------------------------------------------

export function expectType<K extends FrameType>(frame: ServerFrame, type: K): FrameOf<K> {
  if (frame.type !== type) throw new Error(`expected a ${type} frame, got ${JSON.stringify(frame).slice(0, 300)}`);
  return frame as FrameOf<K>;
}

/** Sends a message and awaits its `msg.sent`. */
export async function sendText(client: Client, to: string, text: string, clientId = `c_${randomBytes(6).toString("hex")}`): Promise<FrameOf<"msg.sent">> {
  return expectType(await client.request({ type: "msg.send", clientId, to, text }), "msg.sent");
}

export async function syncPage(client: Client, after?: number): Promise<SyncPageFrame> {
  return expectType(await client.request(after === undefined ? { type: "sync" } : { type: "sync", after }), "sync.page");
}

/**
 * What a device that has everything up to `after` does on reconnecting: sync
 * pages until `more` is false, then take live `msg` pushes past the cursor until
 * `count` messages (matching `keep`) have arrived. Fails on a message seen
 * twice in the log or a push that contradicts the pages.
 */
export async function catchUp(
  client: Client,
  after: number,
  count: number,
  keep: (message: Message) => boolean = () => true,
): Promise<{ messages: Message[]; pages: SyncPageFrame[] }> {
  const byRev = new Map<number, Message>();
  const pages: SyncPageFrame[] = [];
  let cursor = after;
  for (;;) {
    const page = await syncPage(client, cursor);
    pages.push(page);
    for (const message of page.messages) {
      if (message.rev <= cursor) throw new Error(`sync after ${cursor} returned rev ${message.rev}`);
      if (byRev.has(message.rev)) throw new Error(`rev ${message.rev} returned twice`);
      byRev.set(message.rev, message);
    }
    cursor = page.rev;
    if (!page.more) break;
  }
  const kept = () => [...byRev.values()].filter(keep).length;
  while (kept() < count) {
    const { message } = await client.next(is("msg", (f) => keep(f.message)));
    const known = byRev.get(message.rev);
    if (known && known.id !== message.id) throw new Error(`push at rev ${message.rev} differs from the synced message`);
    if (!known && message.rev <= cursor) throw new Error(`push at rev ${message.rev} is missing from the sync pages`);
    byRev.set(message.rev, message);
  }
  const messages = [...byRev.values()].sort((a, b) => a.rev - b.rev).filter(keep);
  return { messages, pages };
}
