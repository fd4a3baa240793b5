/**
 * Shared helpers for the tests inside workerd: fresh usernames, accounts made
 * through the gateway, WebSocket clients that await frames with a timeout, and
 * a look at a user's store from inside its object.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { expect, onTestFinished } from "vitest";
import type { ClientFrame, ErrorFrame, ServerFrame } from "../../src/protocol";
import { UserStore } from "../../src/objects/user-store";
import type { UserObject } from "../../src/objects/user";

export const PASSWORD = "correct horse battery staple";
const DEFAULT_TIMEOUT_MS = 3_000;

let counter = 0;
/** A username no other test uses (a-z, 0-9, _; at most 32 characters). */
export function freshName(prefix = "u"): string {
  const unique = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  return `${prefix}_${(counter++).toString(36)}_${unique}`.slice(0, 32);
}

export function gateway(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`http://localhost${path}`, init));
}

export function postJson(path: string, body: unknown): Promise<Response> {
  return gateway(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** The response is the typed error `{ error: { code, message } }` with this status. */
export async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("Content-Type")).toMatch(/application\/json/);
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
}

export interface Account {
  user: string;
  token: string;
}

/** Registers a fresh user through POST /api/register. */
export async function register(prefix = "u"): Promise<Account> {
  const username = freshName(prefix);
  const res = await postJson("/api/register", { username, password: PASSWORD });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  const body = await res.json<{ user: string; token: string }>();
  return { user: body.user, token: body.token };
}

export function userStub(user: string): DurableObjectStub<UserObject> {
  return env.USER.getByName(user);
}

/**
 * Opens the user's store from inside their object, for state the wire does
 * not show. Read-only on an object that is in use: this second UserStore
 * shares the tables but not the object's in-memory log head.
 */
export function inStore<R>(user: string, read: (store: UserStore, state: DurableObjectState) => R): Promise<R> {
  return runInDurableObject(userStub(user), (_instance: UserObject, state) => read(new UserStore(state.storage), state));
}

/**
 * Calls one of the user's object methods directly, inside the object, and
 * reports how it ended. Used for calls expected to throw: through a stub, a
 * rejecting RPC leaks an unhandled rejection in the test pool
 * (cloudflare/workers-sdk#14736) even when the test handles it.
 */
export function callInObject<R>(user: string, call: (instance: UserObject) => Promise<R>): Promise<{ ok: true; value: R } | { ok: false; error: string }> {
  return runInDurableObject(userStub(user), async (instance: UserObject) => {
    try {
      return { ok: true as const, value: await call(instance) };
    } catch (err) {
      return { ok: false as const, error: String(err) };
    }
  });
}

/** The rows of a user's delivery queue. */
export function outboxOf(user: string): Promise<{ rev: number; peer: string; attempts: number }[]> {
  return runInDurableObject(userStub(user), (_instance: UserObject, state) =>
    state.storage.sql.exec<{ rev: number; peer: string; attempts: number }>("SELECT rev, peer, attempts FROM outbox ORDER BY rev").toArray(),
  );
}

type Predicate<T extends ServerFrame> = (frame: ServerFrame) => frame is T;

/** A device's socket, opened through the gateway, that hands out frames as they arrive. */
export class Client {
  readonly #buffer: ServerFrame[] = [];
  readonly #waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  readonly #raw: string[] = [];
  readonly #rawWaiters: ((data: string) => void)[] = [];
  #closed = false;
  readonly #closedWith: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const data = String(event.data);
      if (!data.startsWith("{")) {
        const waiter = this.#rawWaiters.shift();
        if (waiter) waiter(data);
        else this.#raw.push(data);
        return;
      }
      const frame = JSON.parse(data) as ServerFrame;
      const index = this.#waiters.findIndex((w) => w.match(frame));
      if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(frame);
      else this.#buffer.push(frame);
    });
    this.#closedWith = new Promise((resolve) =>
      ws.addEventListener("close", (event) => {
        this.#closed = true;
        resolve({ code: event.code, reason: event.reason });
      }),
    );
  }

  /** How the server closed the socket; fails after a timeout. */
  closedBy(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.#closedWith,
      scheduler.wait(timeoutMs).then(() => Promise.reject(new Error(`socket still open after ${timeoutMs} ms`))),
    ]);
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | ArrayBuffer): void {
    this.ws.send(data);
  }

  /** The first frame (buffered or still to come) that matches; fails after a timeout. */
  next<T extends ServerFrame>(match: Predicate<T>, timeoutMs?: number): Promise<T>;
  next(match?: (frame: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  next(match: (frame: ServerFrame) => boolean = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ServerFrame> {
    const index = this.#buffer.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#buffer.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: ServerFrame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; buffered: ${JSON.stringify(this.#buffer)}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The next frame of a type, optionally answering a given ref. */
  nextOf<K extends ServerFrame["type"]>(type: K, ref?: string, timeoutMs?: number): Promise<Extract<ServerFrame, { type: K }>> {
    return this.next(
      (f): f is Extract<ServerFrame, { type: K }> => f.type === type && (ref === undefined || ("ref" in f && f.ref === ref)),
      timeoutMs,
    );
  }

  /** The next non-JSON text the server sends (the runtime's "pong"). */
  nextRaw(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const data = this.#raw.shift();
    if (data !== undefined) return Promise.resolve(data);
    return new Promise((resolve, reject) => {
      const waiter = (d: string) => {
        clearTimeout(timer);
        resolve(d);
      };
      const timer = setTimeout(() => {
        this.#rawWaiters.splice(this.#rawWaiters.indexOf(waiter), 1);
        reject(new Error(`no text within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#rawWaiters.push(waiter);
    });
  }

  /** Frames that arrived and nobody has taken yet. */
  buffered(): readonly ServerFrame[] {
    return this.#buffer;
  }

  /**
   * Waits until the server has answered everything sent before: frames on one
   * socket are ordered, so a sync answered means earlier replies are in.
   */
  async barrier(): Promise<void> {
    const ref = `barrier-${counter++}`;
    this.send({ type: "sync", ref });
    await this.nextOf("sync.page", ref);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.ws.close(1000, "test done");
    } catch {
      // Already closed by the server.
    }
  }
}

/** Opens a socket through GET /api/ws; closed when the test finishes. */
export async function connect(account: Account, options: { device?: string; headers?: Record<string, string> } = {}): Promise<Client> {
  const query = new URLSearchParams({ token: account.token });
  if (options.device) query.set("device", options.device);
  const res = await gateway(`/api/ws?${query}`, { headers: { Upgrade: "websocket", ...options.headers } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`connect ${account.user}: ${res.status} ${await res.text()}`);
  const client = new Client(res.webSocket);
  res.webSocket.accept();
  onTestFinished(() => client.close());
  return client;
}

/** Connects and waits for the hello frame. */
export async function connectReady(account: Account, options: { device?: string } = {}): Promise<Client> {
  const client = await connect(account, options);
  await client.nextOf("hello");
  return client;
}

/**
 * Sends `count` sends without waiting (ref and clientId `${tag}${i}`), then
 * collects each one's answer: the `answer` frame or an error.
 */
export async function floodSends<T extends "msg.sent" | "group.sent">(
  client: Client,
  count: number,
  tag: string,
  answer: T,
  frame: (clientId: string, i: number) => ClientFrame,
): Promise<(Extract<ServerFrame, { type: T }> | ErrorFrame)[]> {
  type Answer = Extract<ServerFrame, { type: T }> | ErrorFrame;
  for (let i = 0; i < count; i++) client.send(frame(`${tag}${i}`, i));
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) {
    const ref = `${tag}${i}`;
    answers.push((await client.next((f) => (f.type === answer || f.type === "error") && "ref" in f && f.ref === ref)) as Answer);
  }
  return answers;
}

/** Polls `check` (each call a round trip to an object) until it holds; fails after a timeout. */
export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await scheduler.wait(1);
  }
}
