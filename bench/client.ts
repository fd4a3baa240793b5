/**
 * A thin client on the documented protocol (docs/protocol.md) over `ws`: just
 * enough for load, and cheap enough to hold thousands of sockets in one
 * process. It keeps no frame history; scenarios read frames as they come.
 */
import WebSocket from "ws";
import { GROUP_DELIVERED_HOLD_MS } from "../src/client/client";
import type { ClientFrame, ServerFrame } from "../src/protocol";

export type FrameOf<K extends ServerFrame["type"]> = Extract<ServerFrame, { type: K }>;

interface Waiter {
  match: (frame: ServerFrame) => boolean;
  resolve: (frame: ServerFrame) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface ClientOptions {
  /**
   * Acknowledge incoming messages the way the SDK does: `receipt.delivered`
   * with the highest seq, coalesced per event-loop turn, and `group.delivered`
   * held GROUP_DELIVERED_HOLD_MS (100 ms) first.
   */
  autoDelivered?: boolean;
  timeoutMs?: number;
}

export class BenchClient {
  /** Called for every server frame, with the time it was read (performance.now()). */
  onFrame: (frame: ServerFrame, at: number) => void = () => {};
  /** The newest `rev` this client has seen: its sync cursor. */
  cursor = 0;
  readonly #ws: WebSocket;
  readonly #waiters = new Set<Waiter>();
  readonly #autoDelivered: boolean;
  readonly #receipts = new Map<string, ClientFrame>();
  #flushScheduled = false;
  #groupFlushScheduled = false;
  readonly closed: Promise<void>;
  /** The close code the socket ended with (undefined while open). */
  closeCode: number | undefined;
  readonly user: string;

  private constructor(ws: WebSocket, user: string, options: ClientOptions) {
    this.#ws = ws;
    this.user = user;
    this.#autoDelivered = options.autoDelivered ?? false;
    this.closed = new Promise((resolve) => ws.once("close", () => resolve()));
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      if (text === "pong") return;
      this.#dispatch(JSON.parse(text) as ServerFrame, performance.now());
    });
    // A socket error is followed by "close", which is what the bench acts on.
    ws.on("error", () => {});
    ws.once("close", (code) => {
      this.closeCode = code;
      for (const waiter of this.#waiters) waiter.reject(new Error(`${user}: socket closed`));
      this.#waiters.clear();
    });
  }

  /** Opens a socket and resolves once the server's `hello` arrives. */
  static connect(url: string, user: string, options: ClientOptions = {}): Promise<BenchClient> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const client = new BenchClient(ws, user, options);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${user}: no hello within ${timeoutMs} ms`));
      }, timeoutMs);
      client.next((f) => f.type === "hello", timeoutMs).then(
        (hello) => {
          clearTimeout(timer);
          resolve(client);
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`${user}: ${err.message}`));
      });
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`${user}: HTTP ${res.statusCode} on upgrade`));
      });
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(frame: ClientFrame | "ping"): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Any text, sent as it is (the flood scenario's junk). */
  sendRaw(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
  }

  /** The next frame matching `match`, or a rejection after `timeoutMs`. */
  next<F extends ServerFrame>(match: (frame: ServerFrame) => boolean, timeoutMs = 10_000): Promise<F> {
    return new Promise<F>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: resolve as (frame: ServerFrame) => void,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`${this.user}: no matching frame within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** A clean close; resolves when the server answered it (or after 5 s). */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    this.#ws.close(1000);
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 5_000).unref())]);
    this.#ws.terminate();
  }

  /** Drops the connection without a close handshake, like a phone losing signal. */
  drop(): void {
    this.#ws.terminate();
  }

  #dispatch(frame: ServerFrame, at: number): void {
    // `hello.rev` is the server's newest, and a sync page's rev is the caller's to keep: neither is a frame this client has.
    if ("rev" in frame && typeof frame.rev === "number" && frame.type !== "hello" && frame.type !== "sync.page") this.cursor = Math.max(this.cursor, frame.rev);
    if (frame.type === "msg") this.cursor = Math.max(this.cursor, frame.message.rev);
    if (this.#autoDelivered) this.#noteDelivered(frame);
    this.onFrame(frame, at);
    for (const waiter of this.#waiters) {
      if (!waiter.match(frame)) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(frame);
    }
  }

  #noteDelivered(frame: ServerFrame): void {
    if (frame.type === "msg" && frame.message.from !== this.user) {
      const chat = frame.message.from;
      const prev = this.#receipts.get(chat);
      const upto = Math.max(frame.message.seq, prev?.type === "receipt.delivered" ? prev.upto : 0);
      this.#receipts.set(chat, { type: "receipt.delivered", chat, upto });
    } else if (frame.type === "group.msg" && frame.message.from !== this.user) {
      const key = `group ${frame.message.group}`;
      const prev = this.#receipts.get(key);
      const upto = Math.max(frame.message.seq, prev?.type === "group.delivered" ? prev.upto : 0);
      this.#receipts.set(key, { type: "group.delivered", group: frame.message.group, upto });
    } else {
      return;
    }
    const group = frame.type === "group.msg";
    if (group ? this.#groupFlushScheduled : this.#flushScheduled) return;
    const flush = () => {
      for (const [key, receipt] of this.#receipts) {
        if ((receipt.type === "group.delivered") !== group) continue;
        this.send(receipt);
        this.#receipts.delete(key);
      }
    };
    if (group) {
      this.#groupFlushScheduled = true;
      setTimeout(() => {
        this.#groupFlushScheduled = false;
        flush();
      }, GROUP_DELIVERED_HOLD_MS);
    } else {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        flush();
      });
    }
  }
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return results;
}
