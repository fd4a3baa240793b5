import {
  DEFAULT_LIMITS,
  USERNAME_PATTERN,
  utf8Length,
  WS_PROTOCOL,
  WS_TOKEN_PREFIX,
  type ClientFrame,
  type ErrorFrame,
  type FrameErrorCode,
  type GroupMembership,
  type HelloFrame,
  type HistoryPageFrame,
  type Limits,
  type Message,
  type MsgSentFrame,
  type ServerFrame,
  type SyncPageFrame,
} from "../protocol";
import {
  Connection,
  DEFAULT_HEARTBEAT,
  DEFAULT_RECONNECT,
  type ConnectionStatus,
  type HeartbeatPolicy,
  type ReconnectPolicy,
  type WebSocketConstructor,
} from "./connection";
import { Cursor } from "./cursor";
import { Emitter } from "./emitter";
import { EdgechatClosedError, EdgechatFrameError } from "./errors";
import { authenticate, trimSlash, type Session } from "./http";
import { randomId } from "./ids";
import { ChatModel, type Chat, type ChatMessage } from "./model";
import { Outbox } from "./outbox";
import { ReceiptQueue, type ReceiptKind } from "./receipts";
import { Requests, type RequestFrame } from "./requests";
import { MemoryStorage, type OutboxStorage, type PendingMessage } from "./storage";

export interface ClientOptions {
  /** The server's HTTP base, e.g. `https://chat.example.com`. */
  url: string;
  /** The token from register/login, or a function asked before every connection attempt. */
  token: string | (() => string | Promise<string>);
  /** A stable id for this device (A-Z, a-z, 0-9, _ and -); a random one per client otherwise. */
  device?: string;
  /** The WebSocket class; defaults to `globalThis.WebSocket` (browsers, Node 22). */
  WebSocket?: WebSocketConstructor;
  /** Where the outbox lives; in memory by default. */
  storage?: OutboxStorage;
  reconnect?: Partial<ReconnectPolicy>;
  heartbeat?: Partial<HeartbeatPolicy>;
  /** Connect in the constructor (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
}

export interface ClientEvents {
  /** A message new to this client: from the peer, or mine from another device. */
  message: ChatMessage;
  /** The server stored one of my messages. */
  sent: ChatMessage;
  /** A chat's receipt watermarks moved; its messages' ticks are updated. */
  receipt: Chat;
  /** One of my messages failed: refused by the server, or undeliverable. */
  failed: ChatMessage;
  status: ConnectionStatus;
  /** The server's greeting on each connection. */
  hello: HelloFrame;
  /** A sync finished: the client holds everything up to `rev`. */
  synced: { rev: number };
  /** Something in this chat changed (for redrawing). */
  change: string;
  /** Errors nobody asked for: a refused receipt, an unreadable frame, a failing listener. */
  error: Error;
}

/** How many live revs may wait above a gap before the client asks the server again. */
const MAX_WAITING_REVS = 100;
/** Delay before resending a message the server could not handle this time. */
const RESEND_AFTER_MS = 2_000;
/** Errors that mean "not processed, try again" rather than "refused". */
const TRANSIENT_ERRORS: ReadonlySet<FrameErrorCode> = new Set(["internal", "unavailable"]);

/**
 * The edgechat client for browsers and Node: one self-healing connection, an
 * outbox that survives disconnects, resumable sync and an in-memory model of
 * the chats with their ticks.
 *
 * @example
 * const { token } = await EdgechatClient.login("http://127.0.0.1:8787", "alice", "correct horse");
 * const client = new EdgechatClient({ url: "http://127.0.0.1:8787", token });
 * client.on("message", (m) => console.log(m.from, m.text));
 * await client.send("bob", "hi");  // resolves once the server stored it
 * client.markRead("bob");
 */
export class EdgechatClient {
  /** Creates an account; throws `EdgechatHttpError` (e.g. `username_taken`). */
  static register(url: string, username: string, password: string): Promise<Session> {
    return authenticate(url, "register", username, password);
  }

  /** Signs in; throws `EdgechatHttpError` (e.g. `invalid_credentials`). */
  static login(url: string, username: string, password: string): Promise<Session> {
    return authenticate(url, "login", username, password);
  }

  readonly device: string;
  readonly #url: string;
  readonly #token: ClientOptions["token"];
  // A throwing "error" listener is not reported to itself.
  readonly #events = new Emitter<ClientEvents>((err, event) => event !== "error" && this.#events.emit("error", asError(err)));
  readonly #model = new ChatModel();
  readonly #cursor = new Cursor();
  readonly #outbox: Outbox;
  readonly #receipts = new ReceiptQueue();
  readonly #requests = new Requests();
  /** Group memberships (group messages are not part of this client yet). */
  readonly #groups = new Map<string, GroupMembership>();
  readonly #connection: Connection;
  readonly #loaded: Promise<void>;
  #syncWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  #syncRef: string | undefined;
  #frameNo = 0;
  #refNo = 0;
  #user: string | undefined;
  #limits: Limits = DEFAULT_LIMITS;
  #closed = true;
  #receiptFlushQueued = false;
  #resendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ClientOptions) {
    this.#url = trimSlash(options.url);
    this.#token = options.token;
    this.device = options.device ?? randomId();
    this.#outbox = new Outbox(options.storage ?? new MemoryStorage());
    this.#connection = new Connection({
      target: () => this.#target(),
      WebSocket: options.WebSocket ?? globalWebSocket(),
      reconnect: { ...DEFAULT_RECONNECT, ...options.reconnect },
      heartbeat: { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
      handlers: {
        open: () => this.#onOpen(),
        message: (data) => this.#onFrame(data),
        close: () => this.#onClose(),
        status: (status) => this.#events.emit("status", status),
        error: (error) => this.#events.emit("error", error),
      },
    });
    this.#loaded = this.#outbox.load().then(
      (pending) => pending.forEach((p) => this.#model.addPending(p)),
      (err: unknown) => this.#events.emit("error", asError(err)),
    );
    if (options.autoConnect !== false) this.connect();
  }

  // ---- lifecycle -----------------------------------------------------------------

  /** Starts (or restarts after `close()`) the self-healing connection. */
  connect(): void {
    if (!this.#closed) return;
    this.#closed = false;
    void this.#loaded.then(() => {
      if (!this.#closed) this.#connection.start();
    });
  }

  /** Closes the connection. Unanswered sends and requests reject; the outbox stays in storage. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#resendTimer);
    this.#connection.stop();
    const error = new EdgechatClosedError();
    this.#outbox.abandon(error);
    this.#requests.abandon(error);
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(error);
  }

  /** Skips the reconnect backoff, e.g. when the browser reports it is online again. */
  reconnectNow(): void {
    this.#connection.reconnectNow();
  }

  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.#events.once(event, listener);
  }

  // ---- state -----------------------------------------------------------------------

  get status(): ConnectionStatus {
    return this.#connection.status;
  }

  /** The signed-in username, once the server said hello. */
  get user(): string | undefined {
    return this.#user;
  }

  get limits(): Limits {
    return this.#limits;
  }

  /** The sync cursor: the last rev of the user's log this client holds. */
  get rev(): number | undefined {
    return this.#cursor.rev;
  }

  chat(name: string): Chat | undefined {
    return this.#model.chat(name);
  }

  /** Chats with the most recent activity first. */
  chats(): Chat[] {
    return this.#model.chats();
  }

  unread(chat: string): number {
    return this.#model.unread(chat);
  }

  /** Groups the user is or was in, as the last sync or `group.changed` said. */
  groups(): GroupMembership[] {
    return [...this.#groups.values()];
  }

  /** Messages not yet acknowledged by the server, oldest first. */
  outbox(): PendingMessage[] {
    return this.#outbox.list();
  }

  // ---- client frames ------------------------------------------------------------------

  /**
   * Sends a message (`msg.send`). It is stored in the outbox first and sent
   * whenever connected, with the same clientId on every resend. Resolves when
   * the server stored it; rejects (`EdgechatFrameError`) if refused.
   */
  async send(to: string, text: string): Promise<ChatMessage> {
    this.#check(to, text);
    await this.#loaded;
    const pending: PendingMessage = { clientId: randomId(), to, text, createdAt: Date.now() };
    const { settled } = await this.#outbox.add(pending);
    this.#model.addPending(pending);
    this.#events.emit("change", to);
    this.#flushOutbox();
    return settled;
  }

  /** Asks for everything after the cursor (`sync`); resolves when the last page arrived. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new EdgechatClosedError());
    const done = new Promise<void>((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
    if (this.#connection.status === "open" && !this.#cursor.syncing) this.#startSync();
    return done;
  }

  /**
   * One page of a chat's history (`history`), oldest first, older than the
   * rev `before`. Waits for a connection; the messages join the model.
   */
  async history(chat: string, before?: number, limit?: number): Promise<HistoryPageFrame> {
    const frame: RequestFrame = { type: "history", ref: this.#nextRef("h"), chat };
    if (before !== undefined) frame.before = before;
    if (limit !== undefined) frame.limit = limit;
    const page = (await this.#request(frame)) as HistoryPageFrame;
    for (const message of page.messages) this.#model.upsert(message);
    this.#events.emit("change", chat);
    return page;
  }

  /** The user has seen the peer's messages up to `upto` (default: all received) (`receipt.read`). */
  markRead(chat: string, upto: number = this.#model.lastIncoming(chat)): void {
    this.#noteReceipt("read", chat, upto);
  }

  /** The peer's messages up to `upto` reached this device (`receipt.delivered`); sent automatically. */
  markDelivered(chat: string, upto: number): void {
    this.#noteReceipt("delivered", chat, upto);
  }

  // ---- connection events -----------------------------------------------------------

  async #target(): Promise<{ url: string; protocols: string[] }> {
    const token = typeof this.#token === "function" ? await this.#token() : this.#token;
    const url = `${this.#url.replace(/^http/, "ws")}/api/ws?device=${encodeURIComponent(this.device)}`;
    return { url, protocols: [WS_PROTOCOL, WS_TOKEN_PREFIX + token] };
  }

  #onOpen(): void {
    this.#frameNo = 0;
    // Receipts left from the last connection first: the sync's answer confirms them.
    this.#flushReceipts();
    this.#startSync();
    this.#flushOutbox();
    this.#flushRequests();
  }

  #onClose(): void {
    this.#cursor.disconnected();
    this.#receipts.disconnected();
    this.#outbox.unsend();
    this.#requests.disconnected();
    this.#syncRef = undefined;
  }

  #onFrame(data: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return this.#events.emit("error", new Error("The server sent a frame that is not JSON."));
    }
    if ("ref" in frame && frame.ref !== undefined) this.#receipts.answered(frame.ref);
    switch (frame.type) {
      case "hello":
        return this.#onHello(frame);
      case "sync.page":
        return this.#onSyncPage(frame);
      case "msg":
        this.#applyMessage(frame.message);
        return this.#live(frame.message.rev);
      case "msg.sent":
        return this.#onSent(frame);
      case "msg.failed": {
        const failed = this.#model.fail(frame);
        if (failed) this.#emitFailed(failed);
        return this.#live(frame.rev);
      }
      case "receipt":
        this.#events.emit("receipt", this.#model.applyChat(frame));
        this.#events.emit("change", frame.chat);
        return this.#live(frame.rev);
      case "history.page":
        if (frame.ref !== undefined) this.#requests.resolve(frame.ref, frame);
        return;
      case "group.changed":
        this.#groups.set(frame.membership.group, frame.membership);
        return this.#live(frame.rev);
      case "error":
        return this.#onError(frame);
    }
  }

  #onHello(hello: HelloFrame): void {
    this.#user = hello.user;
    this.#model.setMe(hello.user);
    this.#limits = hello.limits;
    this.#events.emit("hello", hello);
  }

  #onSyncPage(page: SyncPageFrame): void {
    if (page.ref === undefined || page.ref !== this.#syncRef) return;
    for (const state of page.chats) this.#model.applyChat(state);
    for (const message of page.messages) this.#applyMessage(message);
    for (const failure of page.failures) {
      const failed = this.#model.fail(failure);
      if (failed) this.#emitFailed(failed);
    }
    for (const state of page.chats) this.#events.emit("change", state.chat);
    for (const membership of page.groups ?? []) this.#groups.set(membership.group, membership);
    this.#cursor.page(page.rev, page.more);
    if (page.more) return this.#sendSync(page.rev);
    this.#syncRef = undefined;
    this.#events.emit("synced", { rev: page.rev });
    for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve();
  }

  #onSent(ack: MsgSentFrame): void {
    const pending = this.#outbox.get(ack.clientId);
    const known = this.#model.chat(ack.chat)?.messages.find((m) => m.clientId === ack.clientId && m.mine);
    const text = pending?.text ?? known?.text;
    // An answer for a message this client never had (another session's) says nothing to show.
    if (text === undefined) return;
    const message = this.#model.acknowledge(ack, text);
    this.#outbox.acknowledged(ack.clientId, message);
    this.#events.emit("sent", message);
    this.#events.emit("change", ack.chat);
    this.#live(ack.rev);
  }

  #onError(error: ErrorFrame): void {
    const refused = new EdgechatFrameError(error.code, error.message);
    if (error.ref !== undefined && this.#outbox.get(error.ref)) {
      // The server could not handle it (not: will not): try again shortly.
      if (TRANSIENT_ERRORS.has(error.code)) return this.#resendLater(error.ref);
      this.#outbox.refused(error.ref, refused);
      const failed = this.#model.reject(error.ref, error.code);
      if (failed) this.#emitFailed(failed);
      return;
    }
    if (error.ref !== undefined && this.#requests.has(error.ref)) return this.#requests.reject(error.ref, refused);
    this.#events.emit("error", refused);
  }

  // ---- applying --------------------------------------------------------------------

  #applyMessage(message: Message): void {
    const { message: applied, added } = this.#model.upsert(message);
    if (added) this.#events.emit("message", applied);
    this.#events.emit("change", applied.chat);
    if (!applied.mine) this.#noteReceipt("delivered", applied.chat, message.seq);
  }

  /** A live frame carried `rev`; too many held above a gap means one was lost: ask again. */
  #live(rev: number): void {
    this.#cursor.live(rev);
    if (this.#cursor.waiting > MAX_WAITING_REVS && !this.#cursor.syncing && this.#connection.status === "open") this.#startSync();
  }

  #emitFailed(message: ChatMessage): void {
    this.#events.emit("failed", message);
    this.#events.emit("change", message.chat);
  }

  // ---- sending ---------------------------------------------------------------------

  /** Sends a frame now; returns its number on this connection, or undefined when not connected. */
  #sendFrame(frame: ClientFrame): number | undefined {
    if (!this.#connection.send(JSON.stringify(frame))) return undefined;
    const frameNo = ++this.#frameNo;
    if (frame.ref !== undefined) this.#receipts.requestSent(frame.ref, frameNo);
    return frameNo;
  }

  #startSync(): void {
    this.#sendSync(this.#cursor.beginSync());
  }

  #sendSync(after: number | undefined): void {
    this.#syncRef = this.#nextRef("s");
    const frame: ClientFrame = { type: "sync", ref: this.#syncRef };
    if (after !== undefined) frame.after = after;
    this.#sendFrame(frame);
  }

  #flushOutbox(): void {
    if (this.#connection.status !== "open") return;
    for (const message of this.#outbox.takeUnsent()) {
      const sent = this.#sendFrame({ type: "msg.send", ref: message.clientId, clientId: message.clientId, to: message.to, text: message.text });
      if (sent === undefined) return this.#outbox.unsend(message.clientId);
    }
  }

  #resendLater(clientId: string): void {
    this.#outbox.unsend(clientId);
    this.#resendTimer ??= setTimeout(() => {
      this.#resendTimer = undefined;
      this.#flushOutbox();
    }, RESEND_AFTER_MS);
  }

  #noteReceipt(kind: ReceiptKind, chat: string, upto: number): void {
    if (upto < 1 || !this.#receipts.note(kind, chat, upto)) return;
    // Coalesced: a sync page's messages make one receipt per chat.
    if (this.#receiptFlushQueued) return;
    this.#receiptFlushQueued = true;
    queueMicrotask(() => {
      this.#receiptFlushQueued = false;
      this.#flushReceipts();
    });
  }

  #flushReceipts(): void {
    this.#receipts.flush((r) => this.#sendFrame({ type: r.kind === "read" ? "receipt.read" : "receipt.delivered", chat: r.chat, upto: r.upto }));
  }

  #request(frame: RequestFrame): Promise<ServerFrame> {
    if (this.#closed) return Promise.reject(new EdgechatClosedError());
    const answer = this.#requests.add(frame);
    this.#flushRequests();
    return answer;
  }

  #flushRequests(): void {
    this.#requests.flush((frame) => this.#sendFrame(frame) !== undefined);
  }

  #nextRef(prefix: string): string {
    return `${prefix}${++this.#refNo}`;
  }

  /** Refuses, before storing, what the server would refuse anyway. */
  #check(to: string, text: string): void {
    if (!USERNAME_PATTERN.test(to)) throw new EdgechatFrameError("bad_frame", "to: must be a username (a-z, 0-9, _; 3 to 32 characters)");
    if (to === this.#user) throw new EdgechatFrameError("invalid_recipient", "You cannot send a message to yourself.");
    if (text.length === 0) throw new EdgechatFrameError("bad_frame", "text: must not be empty");
    if (utf8Length(text) > this.#limits.maxTextBytes) throw new EdgechatFrameError("text_too_large", `The message text is larger than ${this.#limits.maxTextBytes} bytes.`);
  }
}

function globalWebSocket(): WebSocketConstructor {
  const ctor: unknown = Reflect.get(globalThis, "WebSocket");
  if (typeof ctor === "function") return ctor as WebSocketConstructor;
  throw new Error("No WebSocket in this runtime: pass options.WebSocket (e.g. the `ws` package).");
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
