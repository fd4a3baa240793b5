import {
  DEFAULT_LIMITS,
  GROUP_ID_PATTERN,
  USERNAME_PATTERN,
  utf8Length,
  WS_PROTOCOL,
  WS_TOKEN_PREFIX,
  type ClientFrame,
  type ErrorFrame,
  type FrameErrorCode,
  type GroupInfo,
  type GroupMembership,
  type GroupMsgInfoFrame,
  type GroupPageFrame,
  type HelloFrame,
  type HistoryPageFrame,
  type Limits,
  type Message,
  type MsgSentFrame,
  type PresenceState,
  type ServerFrame,
  type Settings,
  type SyncPageFrame,
  type Visibility,
  TokenBucket,
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
import type { ClientEvents, TypingTarget } from "./events";
import type { GroupChat, GroupChatMessage } from "./group-model";
import { Groups, type GroupAction } from "./groups";
import { authenticate, changePassword, logout, trimSlash, type Session } from "./http";
import { randomId } from "./ids";
import type { ClientLink } from "./link";
import { ChatModel, type Chat, type ChatMessage } from "./model";
import { Outbox, type SentMessage } from "./outbox";
import { PresenceTracker } from "./presence";
import { ReceiptQueue, type ReceiptKind } from "./receipts";
import { Requests, type RequestFrame } from "./requests";
import { MemoryStorage, type OutboxStorage, type PendingMessage } from "./storage";

export type { ClientEvents } from "./events";

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

/** How many live revs may wait above a gap before the client asks the server again. */
const MAX_WAITING_REVS = 100;
/** Delay before resending a message the server could not handle this time. */
const RESEND_AFTER_MS = 2_000;
/**
 * How long a device holds its `group.delivered` receipts before sending the
 * highest: a burst of group messages then costs the server one frame, not
 * one per message. The member's object holds them 200 ms more before telling
 * the group (src/objects/group-acks.ts), so the group tick hardly moves.
 */
export const GROUP_DELIVERED_HOLD_MS = 100;
/**
 * Errors that mean "not processed, try again" rather than "refused". A
 * `rate_limited` send is resent once its `retryAfterMs` has passed.
 */
const TRANSIENT_ERRORS: ReadonlySet<FrameErrorCode> = new Set(["internal", "unavailable", "rate_limited"]);

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

  /**
   * Signs out everywhere: revokes every token of the user, and the server
   * closes their sockets (code 4001). Throws `EdgechatHttpError` (`network`
   * when offline, `token_revoked` when already signed out).
   */
  static logout(url: string, token: string): Promise<void> {
    return logout(url, token);
  }

  /**
   * Changes the password and revokes every earlier token, this one included:
   * continue with the returned session's token. Throws `EdgechatHttpError`
   * (`invalid_credentials` for a wrong current password, `weak_password`).
   */
  static changePassword(url: string, token: string, password: string, newPassword: string): Promise<Session> {
    return changePassword(url, token, password, newPassword);
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
  readonly #link: ClientLink = {
    fire: (frame) => this.#sendFrame(frame) !== undefined,
    request: (frame) => this.#request(frame),
    nextRef: (prefix) => this.#nextRef(prefix),
    emit: (event, payload) => this.#events.emit(event, payload),
    receipt: (kind, chat, upto) => this.#noteReceipt(kind, chat, upto),
  };
  readonly #groups: Groups;
  readonly #presence: PresenceTracker;
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
  #groupReceiptTimer: ReturnType<typeof setTimeout> | undefined;
  /** While set, the outbox sends nothing: a refused message goes again first, when it fires. */
  #resendTimer: ReturnType<typeof setTimeout> | undefined;
  /** My share of the user's send quota, so one device alone is never refused for rate. */
  #sendQuota = sendQuotaFor(DEFAULT_LIMITS);

  constructor(options: ClientOptions) {
    this.#url = trimSlash(options.url);
    this.#token = options.token;
    this.device = options.device ?? randomId();
    this.#outbox = new Outbox(options.storage ?? new MemoryStorage());
    this.#groups = new Groups(this.#link, this.#outbox);
    this.#presence = new PresenceTracker(this.#link);
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
      (pending) => pending.forEach((p) => (p.group ? this.#groups.model.addPending(p) : this.#model.addPending(p))),
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
    this.#resendTimer = undefined;
    clearTimeout(this.#groupReceiptTimer);
    this.#groupReceiptTimer = undefined;
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
    return this.#groups.model.groups().map(({ group, name, role, active }) => ({ group, name, role, active }));
  }

  groupChat(group: string): GroupChat | undefined {
    return this.#groups.model.group(group);
  }

  /** Group chats with the most recent message first. */
  groupChats(): GroupChat[] {
    return this.#groups.model.groups();
  }

  groupUnread(group: string): number {
    return this.#groups.model.unread(group);
  }

  /** A watched or queried user's presence, as last heard. */
  presenceOf(user: string): PresenceState | undefined {
    return this.#presence.state(user);
  }

  /** Who is typing in a chat or group now (indicators expire by themselves). */
  typingIn(target: TypingTarget): string[] {
    return this.#presence.typingIn(target);
  }

  /** My privacy settings, once `getSettings` answered or a device changed them. */
  get settings(): Settings | undefined {
    return this.#presence.settings;
  }

  /** Messages not yet acknowledged by the server, oldest first. */
  outbox(): PendingMessage[] {
    return this.#outbox.list();
  }

  // ---- client frames ------------------------------------------------------------------

  /**
   * Sends a message (`msg.send`). It is stored in the outbox first and sent
   * whenever connected, with the same clientId on every resend. Resolves when
   * the server stored it; rejects (`EdgechatFrameError`) if refused. What the
   * server would refuse anyway (an empty or too long text, a malformed name,
   * myself) throws at once, before anything is stored.
   */
  send(to: string, text: string): Promise<ChatMessage> {
    this.#check(to, text);
    return this.#enqueue({ clientId: randomId(), to, text, createdAt: Date.now() }) as Promise<ChatMessage>;
  }

  /** Sends a message to a group (`group.send`), through the outbox like `send`. */
  sendToGroup(group: string, text: string): Promise<GroupChatMessage> {
    this.#checkText(text);
    if (!GROUP_ID_PATTERN.test(group)) throw new EdgechatFrameError("bad_frame", "group: must be a group id (g_...)");
    return this.#enqueue({ clientId: randomId(), to: group, group: true, text, createdAt: Date.now() }) as Promise<GroupChatMessage>;
  }

  /** Sends a failed message's text again as a new message, replacing the failed one in view. */
  retry(message: ChatMessage | GroupChatMessage): Promise<ChatMessage | GroupChatMessage> {
    if ("group" in message) {
      this.#groups.model.discard(message.clientId);
      return this.sendToGroup(message.group, message.text);
    }
    this.#model.discard(message.clientId);
    return this.send(message.chat, message.text);
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

  // ---- groups (answers are the group's info after the change) ----------------------------

  /** Creates a group with me as its admin (`group.create`). */
  createGroup(name: string, members: string[] = []): Promise<GroupInfo> {
    return this.#groups.create(name, members);
  }

  /** Admins only (`group.add`). */
  addMembers(group: string, members: string[]): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.add", group, members });
  }

  /** Admins only (`group.remove`); removing myself is leaving. */
  removeMember(group: string, member: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.remove", group, member });
  }

  promote(group: string, member: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.promote", group, member });
  }

  demote(group: string, member: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.demote", group, member });
  }

  leaveGroup(group: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.leave", group });
  }

  renameGroup(group: string, name: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.rename", group, name });
  }

  /** The group's members and roles (`group.info`); also kept on `groupChat(group).info`. */
  groupInfo(group: string): Promise<GroupInfo> {
    return this.#groups.act({ type: "group.info", group } satisfies GroupAction);
  }

  /** One page of a group's log older than seq `before` (`group.history`); the messages join the model. */
  groupHistory(group: string, before?: number, limit?: number): Promise<GroupPageFrame> {
    return this.#groups.history(group, before, limit);
  }

  /** I have read the group up to `upto` (default: everything held) (`group.read`). */
  markGroupRead(group: string, upto?: number): void {
    this.#groups.markRead(group, upto);
  }

  /** Who has one of my group messages delivered and read (`group.msginfo`). */
  messageInfo(group: string, seq: number): Promise<GroupMsgInfoFrame> {
    return this.#groups.messageInfo(group, seq);
  }

  // ---- presence, typing, settings -----------------------------------------------------

  /** Follows a user's "online" / "last seen" (`presence.subscribe`, renewed on every connection). */
  subscribePresence(user: string): Promise<PresenceState> {
    return this.#presence.subscribe(user);
  }

  unsubscribePresence(user: string): void {
    this.#presence.unsubscribe(user);
  }

  /** Asks once, without following (`presence.query`). */
  queryPresence(users: string[]): Promise<PresenceState[]> {
    return this.#presence.query(users);
  }

  /** The user is interacting with the app (`presence.active`, at most every 10 s); returns whether one went out. */
  active(): boolean {
    return this.#presence.active();
  }

  /** Call with `true` on each keystroke in a composer, `false` when the text is sent or cleared (`typing`). */
  typing(target: TypingTarget, composing = true): void {
    this.#presence.typing(target, composing);
  }

  async getSettings(): Promise<Settings> {
    return this.#presence.getSettings();
  }

  /** Changes my privacy settings (`settings.set`); resolves with all of them once stored. */
  async updateSettings(changes: { lastSeen?: Visibility; readReceipts?: boolean }): Promise<Settings> {
    return this.#presence.updateSettings(changes);
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
    this.#presence.opened();
  }

  #onClose(): void {
    this.#presence.closed();
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
        this.#presence.messageFrom({ chat: frame.message.chat }, frame.message.from);
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
      case "group.page":
      case "group.msginfo":
        return this.#answer(frame);
      case "group.created":
      case "group.info":
        this.#groups.onFrame(frame);
        return this.#answer(frame);
      case "group.changed":
        this.#groups.onFrame(frame);
        return this.#live(frame.rev);
      case "group.msg":
        this.#groups.onFrame(frame);
        return this.#presence.messageFrom({ group: frame.message.group }, frame.message.from);
      case "group.sent":
      case "group.receipt":
      case "group.failed":
        return this.#groups.onFrame(frame);
      case "presence":
        this.#presence.onPresence(frame);
        return this.#answer(frame);
      case "typing":
        return this.#presence.onTyping(frame);
      case "settings":
        this.#presence.onSettings(frame);
        // `settings.set` is answered to every device, without its ref.
        if (frame.ref === undefined) return this.#requests.resolveSent("settings.set", frame);
        return this.#answer(frame);
      case "error":
        return this.#onError(frame);
    }
  }

  /** The answer to a request. */
  #answer(frame: ServerFrame & { ref?: string }): void {
    if (frame.ref !== undefined) this.#requests.resolve(frame.ref, frame);
  }

  #onHello(hello: HelloFrame): void {
    this.#user = hello.user;
    this.#model.setMe(hello.user);
    this.#groups.model.setMe(hello.user);
    this.#limits = hello.limits;
    this.#connection.setFrameBudget(hello.limits);
    if (this.#sendQuota.ratePerSec !== hello.limits.sendRatePerSec || this.#sendQuota.burst !== hello.limits.sendBurst) this.#sendQuota = sendQuotaFor(hello.limits);
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
    for (const membership of page.groups ?? []) this.#events.emit("group", this.#groups.model.membership(membership));
    this.#cursor.page(page.rev, page.more);
    if (page.more) return this.#sendSync(page.rev);
    this.#syncRef = undefined;
    this.#groups.syncAll();
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
    const pending = error.ref !== undefined ? this.#outbox.get(error.ref) : undefined;
    if (pending) {
      // The server could not handle it (not: will not): try again shortly.
      if (TRANSIENT_ERRORS.has(error.code)) return this.#resendLater(pending.clientId, error.code === "rate_limited" ? (error.retryAfterMs ?? RESEND_AFTER_MS) : RESEND_AFTER_MS);
      this.#outbox.refused(pending.clientId, refused);
      if (pending.group) return this.#groups.refused(pending.clientId, error.code);
      const failed = this.#model.reject(pending.clientId, error.code);
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

  /**
   * Sends waiting messages oldest first, as fast as my send quota allows.
   * Messages keep the order they were typed in: after a refusal nothing goes
   * until the refused one goes again (the server refuses anything newer from
   * this socket until then, the `resendFirst` rule of docs/protocol.md).
   */
  #flushOutbox(): void {
    if (this.#connection.status !== "open" || this.#resendTimer !== undefined) return;
    for (;;) {
      const wait = this.#sendQuota.waitMs(Date.now());
      if (wait > 0) return this.#pauseOutbox(wait);
      const message = this.#outbox.takeNextUnsent();
      if (!message) return;
      this.#sendQuota.take(Date.now());
      const { clientId, to, text } = message;
      const frame: ClientFrame = message.group ? { type: "group.send", ref: clientId, clientId, group: to, text } : { type: "msg.send", ref: clientId, clientId, to, text };
      if (this.#sendFrame(frame) === undefined) return this.#outbox.unsend(clientId);
    }
  }

  #resendLater(clientId: string, afterMs: number): void {
    this.#outbox.unsend(clientId);
    this.#pauseOutbox(afterMs);
  }

  #pauseOutbox(ms: number): void {
    this.#resendTimer ??= setTimeout(() => {
      this.#resendTimer = undefined;
      this.#flushOutbox();
    }, ms);
  }

  #noteReceipt(kind: ReceiptKind, chat: string, upto: number): void {
    if (upto < 1 || !this.#receipts.note(kind, chat, upto)) return;
    if (kind === "group.delivered") {
      // Held a moment: a burst of group messages costs one frame, and the
      // member's object holds group receipts longer anyway (GROUP_DELIVERED_HOLD_MS).
      this.#groupReceiptTimer ??= setTimeout(() => {
        this.#groupReceiptTimer = undefined;
        this.#flushReceipts();
      }, GROUP_DELIVERED_HOLD_MS);
      return;
    }
    // Coalesced: a sync page's messages make one receipt per chat.
    if (this.#receiptFlushQueued) return;
    this.#receiptFlushQueued = true;
    queueMicrotask(() => {
      this.#receiptFlushQueued = false;
      this.#flushReceipts();
    });
  }

  #flushReceipts(): void {
    this.#receipts.flush((r) => {
      if (r.kind === "group.delivered" || r.kind === "group.read") return this.#sendFrame({ type: r.kind, group: r.chat, upto: r.upto });
      return this.#sendFrame({ type: r.kind === "read" ? "receipt.read" : "receipt.delivered", chat: r.chat, upto: r.upto });
    });
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

  /** Stores a message in the outbox, shows it as pending and sends it when connected. */
  async #enqueue(pending: PendingMessage): Promise<SentMessage> {
    await this.#loaded;
    const { settled } = await this.#outbox.add(pending);
    if (pending.group) this.#groups.model.addPending(pending);
    else this.#model.addPending(pending);
    this.#presence.typing(pending.group ? { group: pending.to } : { chat: pending.to }, false);
    this.#events.emit("change", pending.to);
    this.#flushOutbox();
    return settled;
  }

  /** Refuses, before storing, what the server would refuse anyway. */
  #check(to: string, text: string): void {
    if (!USERNAME_PATTERN.test(to)) throw new EdgechatFrameError("bad_frame", "to: must be a username (a-z, 0-9, _; 3 to 32 characters)");
    if (to === this.#user) throw new EdgechatFrameError("invalid_recipient", "You cannot send a message to yourself.");
    this.#checkText(text);
  }

  #checkText(text: string): void {
    if (text.length === 0) throw new EdgechatFrameError("bad_frame", "text: must not be empty");
    if (utf8Length(text) > this.#limits.maxTextBytes) throw new EdgechatFrameError("text_too_large", `The message text is larger than ${this.#limits.maxTextBytes} bytes.`);
  }
}

function sendQuotaFor(limits: Pick<Limits, "sendRatePerSec" | "sendBurst">): TokenBucket {
  return new TokenBucket(limits.sendRatePerSec, limits.sendBurst, Date.now());
}

function globalWebSocket(): WebSocketConstructor {
  const ctor: unknown = Reflect.get(globalThis, "WebSocket");
  if (typeof ctor === "function") return ctor as WebSocketConstructor;
  throw new Error("No WebSocket in this runtime: pass options.WebSocket (e.g. the `ws` package).");
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
