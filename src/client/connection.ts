import { DEFAULT_LIMITS, PING, PONG, WS_CLOSE_TOKEN_REVOKED, type Limits } from "../protocol";
import { EdgechatHttpError } from "./errors";
import { FramePacer } from "./pacer";

/**
 * The part of the WebSocket API the client uses, so the browser's, Node 22's
 * (undici) and the `ws` package's sockets all fit. Handlers take `never`: the
 * client reads `event.data` defensively rather than trusting one event type.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type ConnectionStatus = "connecting" | "open" | "closed";

export interface ReconnectPolicy {
  /** Ceiling of the first retry delay; it doubles per failed attempt. */
  baseMs: number;
  /** Longest delay between attempts. */
  maxMs: number;
  /** A connection open this long resets the delay to `baseMs`. */
  stableMs: number;
  /** An attempt not open by then is abandoned and retried. */
  connectTimeoutMs: number;
}

export interface HeartbeatPolicy {
  /** How often to send "ping" while open. */
  intervalMs: number;
  /** No frame at all within this long after a ping means the connection is dead. */
  timeoutMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { baseMs: 500, maxMs: 30_000, stableMs: 10_000, connectTimeoutMs: 10_000 };
export const DEFAULT_HEARTBEAT: HeartbeatPolicy = { intervalMs: 10_000, timeoutMs: 5_000 };

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry).
 * "Equal jitter": between half and all of an exponential ceiling, so a crowd
 * of clients dropped together spreads out, yet none retries in a tight loop.
 */
export function reconnectDelay(attempt: number, policy: Pick<ReconnectPolicy, "baseMs" | "maxMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface ConnectionTarget {
  url: string;
  protocols: string[];
}

export interface ConnectionHandlers {
  /** A socket is open: (re)start the conversation. */
  open(): void;
  /** A text frame other than the heartbeat's. */
  message(data: string): void;
  /** The open socket is gone (a reconnect follows unless stopped). */
  close(): void;
  status(status: ConnectionStatus): void;
  error(error: Error): void;
}

/**
 * One logical connection that keeps itself open: it reconnects with jittered
 * exponential backoff and detects dead sockets with a ping/pong heartbeat
 * (the server's runtime answers "ping" without waking the Durable Object).
 *
 * Hand-rolled rather than partysocket: the loop is this one small class, it
 * needs a fresh target (token) per attempt, a heartbeat that drops silent
 * sockets, and callbacks in a fixed order (open, then frames, then close) that
 * the client's resume logic relies on; partysocket would add a dependency and
 * an EventTarget layer while still leaving the heartbeat to us.
 */
export class Connection {
  readonly #target: () => Promise<ConnectionTarget>;
  readonly #WebSocket: WebSocketConstructor;
  readonly #reconnect: ReconnectPolicy;
  readonly #heartbeat: HeartbeatPolicy;
  readonly #handlers: ConnectionHandlers;
  #socket: WebSocketLike | undefined;
  #isOpen = false;
  #stopped = true;
  /** Bumped by stop(): an attempt still awaiting its target from before is abandoned. */
  #generation = 0;
  #attempt = 0;
  #status: ConnectionStatus = "closed";
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #pongDeadline: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames of the open socket, paced under the server's frame budget. */
  #pacer: FramePacer | undefined;
  #budget: Pick<Limits, "frameRatePerSec" | "frameBurst"> = DEFAULT_LIMITS;

  constructor(options: {
    target: () => Promise<ConnectionTarget>;
    WebSocket: WebSocketConstructor;
    reconnect: ReconnectPolicy;
    heartbeat: HeartbeatPolicy;
    handlers: ConnectionHandlers;
  }) {
    this.#target = options.target;
    this.#WebSocket = options.WebSocket;
    this.#reconnect = options.reconnect;
    this.#heartbeat = options.heartbeat;
    this.#handlers = options.handlers;
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.#stopped = true;
    this.#generation++;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#socket) this.#drop(this.#socket, 1000, "client closed");
    this.#setStatus("closed");
  }

  /** Skips the backoff wait (e.g. the browser says it is back online). */
  reconnectNow(): void {
    if (this.#retryTimer === undefined) return;
    clearTimeout(this.#retryTimer);
    this.#attempt = 0;
    void this.#connect();
  }

  /**
   * Sends a text frame when open, at once or (past the frame budget) after
   * the frames before it; returns false (sending nothing) when not open.
   */
  send(text: string): boolean {
    if (!this.#isOpen || !this.#pacer) return false;
    this.#pacer.send(text);
    return true;
  }

  /** The server's per-socket frame budget (from `hello`), for this socket and the next. */
  setFrameBudget(budget: Pick<Limits, "frameRatePerSec" | "frameBurst">): void {
    this.#budget = budget;
    this.#pacer?.setBudget(budget);
  }

  /** Frames waiting for the frame budget on the open socket. */
  get waitingFrames(): number {
    return this.#pacer?.waiting ?? 0;
  }

  async #connect(): Promise<void> {
    this.#retryTimer = undefined;
    this.#setStatus("connecting");
    const generation = this.#generation;
    let target: ConnectionTarget;
    let socket: WebSocketLike;
    try {
      target = await this.#target();
      if (generation !== this.#generation) return;
      socket = new this.#WebSocket(target.url, target.protocols);
    } catch (err) {
      if (generation !== this.#generation) return;
      this.#handlers.error(err instanceof Error ? err : new Error(String(err)));
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    const connectTimer = this.#after(this.#reconnect.connectTimeoutMs, () => this.#drop(socket, 4000, "connect timeout"));
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      this.#clear(connectTimer);
      this.#opened(socket);
    };
    socket.onmessage = (event: { data?: unknown }) => {
      if (socket !== this.#socket) return;
      // Any frame proves the path is alive, not only the pong.
      this.#clear(this.#pongDeadline);
      if (typeof event.data === "string" && event.data !== PONG) this.#handlers.message(event.data);
    };
    socket.onclose = (event: { code?: number; reason?: string }) => {
      // 1008: the server closed it for breaking a rule (the frame budget); say so rather than go silent.
      if (event.code === 1008) this.#handlers.error(new Error(`The server closed the connection: ${event.reason || "policy violation"}`));
      // 4001: the token was revoked (signed out everywhere, password changed): every reconnect will be refused.
      if (event.code === WS_CLOSE_TOKEN_REVOKED) this.#handlers.error(new EdgechatHttpError(401, "token_revoked", "This session was signed out (on another device, or by a password change)."));
      this.#drop(socket);
    };
    socket.onerror = () => this.#drop(socket);
  }

  #opened(socket: WebSocketLike): void {
    this.#isOpen = true;
    this.#pacer = new FramePacer((text) => {
      try {
        socket.send(text);
      } catch {
        this.#drop(socket, 4000, "send failed");
      }
    }, this.#budget);
    this.#setStatus("open");
    this.#after(this.#reconnect.stableMs, () => {
      this.#attempt = 0;
    });
    const beat = setInterval(() => {
      if (socket !== this.#socket) return clearInterval(beat);
      try {
        socket.send(PING);
      } catch {
        return this.#drop(socket, 4000, "send failed");
      }
      this.#pongDeadline ??= this.#after(this.#heartbeat.timeoutMs, () => this.#drop(socket, 4000, "heartbeat timeout"));
    }, this.#heartbeat.intervalMs);
    this.#timers.add(beat);
    this.#handlers.open();
  }

  /** Forgets a socket (closing it if it is not closed already) and schedules the next attempt. */
  #drop(socket: WebSocketLike, code?: number, reason?: string): void {
    if (socket !== this.#socket) return;
    const wasOpen = this.#isOpen;
    this.#socket = undefined;
    this.#isOpen = false;
    this.#pacer?.clear();
    this.#pacer = undefined;
    for (const timer of this.#timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.#timers.clear();
    this.#pongDeadline = undefined;
    // No-ops rather than null: the `ws` package throws on an unhandled "error".
    const ignore = () => {};
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = ignore;
    if (code !== undefined) {
      try {
        socket.close(code, reason);
      } catch {
        // Already closing; nothing more to do.
      }
    }
    if (wasOpen) this.#handlers.close();
    if (this.#stopped) return;
    this.#setStatus("closed");
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    const delay = reconnectDelay(this.#attempt++, this.#reconnect);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
  }

  #after(ms: number, run: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #clear(timer: ReturnType<typeof setTimeout> | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
    if (timer === this.#pongDeadline) this.#pongDeadline = undefined;
  }

  #setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#handlers.status(status);
  }
}
