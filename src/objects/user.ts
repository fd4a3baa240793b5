import { DurableObject } from "cloudflare:workers";
import { DEFAULT_RECOVERY_MS, intVar, limitsFrom, retryPolicyFrom, userQuotasFrom, type RetryPolicy, type UserQuotas } from "../config";
import type { Env } from "../env";
import { DEVICE_HEADER, log, TOKEN_VERSION_HEADER, USER_HEADER } from "../internal";
import {
  FRAME_ERRORS,
  parseClientFrame,
  PING,
  PONG,
  WS_CLOSE_TOKEN_REVOKED,
  WS_CLOSE_TOKEN_REVOKED_REASON,
  WS_PROTOCOL,
  type ClientFrameOf,
  type Failure,
  type FrameErrorCode,
  type GroupFailedFrame,
  HTTP_ERRORS,
  type HttpErrorBody,
  type HttpErrorCode,
  type Limits,
  type ServerFrame,
  TokenBucket,
  USER_ACTIVITY,
} from "../protocol";
import { isOverloaded, isRemote, isRetryable, LoadMonitor, Priority, shedDecision } from "./lib/load";
import { FLOOD_CLOSE_CODE, FrameBudget } from "./lib/frame-budget";
import { SendQuota } from "./lib/send-quota";
import { DEFAULT_ONLINE_MS, DEFAULT_PRESENCE_SHARDS, type PresenceRecord } from "./presence";
import { handlePresenceFrame, isPresenceFrame, TYPING_TTL_MS, type TypingSignal } from "./user-signals";
import { DEFAULT_MAX_SUBSCRIPTIONS, UserPresence } from "./user-presence";
import { AlarmClock } from "./lib/alarm";
import { accountStub, userStub } from "./lib/stubs";
import { forEachLimited } from "./lib/concurrency";
import { costs } from "./lib/metrics";
import { attachmentOf, closeQuietly, trySend, type SocketAttachment } from "./lib/sockets";
import type { GroupDelivery } from "./group";
import { GroupAcks } from "./group-acks";
import { handleGroupFrame, isGroupFrame } from "./user-groups";
import { UserStore, type WireMessage } from "./user-store";

/** Storage key of the lowest token version this user's sockets may be opened with. */
const MIN_TOKEN_VERSION_KEY = "minTokenVersion";
/** Messages handed to a peer's object in one call. */
const DELIVERY_BATCH = 100;
/** Peers an alarm works on at once. */
const ALARM_CONCURRENCY = 16;

/**
 * The sessions service: one object per user. It holds every socket of the
 * user's devices (hibernatable, so idle users cost no memory), validates each
 * frame, keeps the user's chats, messages and retry queues in SQLite, and
 * talks to other users' objects by RPC.
 */
export class UserObject extends DurableObject<Env> {
  readonly #store: UserStore;
  readonly #limits: Limits;
  readonly #retry: RetryPolicy;
  readonly #alarm: AlarmClock;
  readonly #recoveryMs: number;
  /** One delivery loop per peer at a time; later sends join the running one. */
  readonly #delivering = new Map<string, Promise<void>>();
  readonly #receipting = new Map<string, Promise<void>>();
  readonly #lookups = new Map<string, Promise<boolean>>();
  readonly #presence: UserPresence;
  readonly #groupAcks: GroupAcks;
  readonly #quotas: UserQuotas;
  /** Per-user flood guard on sends (all devices together), with each socket's order gate; in memory, so it costs no writes. */
  readonly #sendQuota: SendQuota;
  readonly #groupCreates: TokenBucket;
  /** Every frame of a socket, checked before it is parsed. */
  readonly #frameBudget: FrameBudget;
  /** Until then new sockets are refused: one of them was just closed for flooding. */
  #floodedUntil = 0;
  /** Work in flight here; public so tests can induce an overload. */
  readonly load: LoadMonitor;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#limits = limitsFrom(env);
    this.#retry = retryPolicyFrom(env);
    this.#alarm = new AlarmClock(ctx.storage);
    this.#recoveryMs = intVar(env.DELIVERY_RECOVERY_MS, DEFAULT_RECOVERY_MS);
    this.#quotas = userQuotasFrom(env);
    this.#sendQuota = new SendQuota(new TokenBucket(this.#limits.sendRatePerSec, this.#limits.sendBurst, Date.now()));
    this.#groupCreates = new TokenBucket(this.#quotas.groupCreatesPerMin / 60, this.#quotas.groupCreatesPerMin, Date.now());
    this.#frameBudget = new FrameBudget(this.#limits.frameRatePerSec, this.#limits.frameBurst);
    this.load = new LoadMonitor({ busyAt: intVar(env.SHED_BUSY_AT, 64), overloadedAt: intVar(env.SHED_OVERLOADED_AT, 256) });
    // Answered by the runtime without waking the object: idle clients stay
    // connected while it hibernates.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    // Migrations are synchronous SQL, so no other event can run before they finish.
    this.#store = new UserStore(ctx.storage);
    this.#groupAcks = new GroupAcks(async (group, kind, upto) => {
      const me = this.#store.owner();
      if (!me) return;
      costs.rpcCalls++;
      const result = await this.env.GROUP.getByName(group).acknowledge(me, kind, upto);
      if (!result.ok) log("group_ack_refused", { user: me, group, code: result.code });
    });
    this.#presence = new UserPresence(env, this.#store, {
      shards: intVar(env.PRESENCE_SHARDS, DEFAULT_PRESENCE_SHARDS),
      writeIntervalMs: intVar(env.PRESENCE_WRITE_INTERVAL_MS, 10_000),
      onlineMs: intVar(env.PRESENCE_ONLINE_MS, DEFAULT_ONLINE_MS),
      maxSubscriptions: intVar(env.PRESENCE_MAX_SUBSCRIPTIONS, DEFAULT_MAX_SUBSCRIPTIONS),
    });
  }

  // ---- connections ---------------------------------------------------------------

  /** The WebSocket upgrade, forwarded by the gateway after it checked the token. */
  override async fetch(request: Request): Promise<Response> {
    const user = request.headers.get(USER_HEADER);
    const device = request.headers.get(DEVICE_HEADER);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !user || !device) {
      return Response.json({ error: { code: "bad_request", message: "Expected a forwarded WebSocket upgrade." } }, { status: 400 });
    }
    if (!this.#claim(user)) {
      return Response.json({ error: { code: "not_authorized", message: "This object belongs to another user." } }, { status: 403 });
    }
    const tokenVersion = Number(request.headers.get(TOKEN_VERSION_HEADER) ?? 0);
    if (tokenVersion < this.#minTokenVersion()) {
      return refuse("token_revoked", "The account signed out or changed its password after this token was issued.");
    }
    const now = Date.now();
    if (now < this.#floodedUntil) {
      return refuse("flood_cooldown", "A socket of this user was closed for sending too many frames; reconnect later.", this.#floodedUntil - now);
    }
    if (this.ctx.getWebSockets().filter((s) => s.readyState === WebSocket.OPEN).length >= this.#quotas.maxSockets) {
      return refuse("too_many_sockets", `At most ${this.#quotas.maxSockets} sockets per user; close one first.`);
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [device]);
    server.serializeAttachment({ user, device, connectedAt: now, tokenVersion } satisfies SocketAttachment);
    this.#store.touchDevice(device, now, this.#quotas.maxDevices);
    this.#send(server, { type: "hello", user, device, rev: this.#store.rev, serverTime: now, limits: this.#limits });
    const offered = request.headers.get("Sec-WebSocket-Protocol")?.split(",").map((p) => p.trim()) ?? [];
    const headers = offered.includes(WS_PROTOCOL) ? { "Sec-WebSocket-Protocol": WS_PROTOCOL } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    costs.framesIn++;
    const verdict = this.#frameBudget.admit(ws, Date.now());
    if (verdict !== "admit") {
      if (verdict === "over") this.#closeFlooding(ws);
      return;
    }
    const parsed = parseClientFrame(raw, this.#limits);
    if (!parsed.ok) {
      this.#error(ws, parsed.code, parsed.ref, parsed.message);
      return;
    }
    const frame = parsed.frame;
    const socket = attachmentOf(ws);
    if (!socket) {
      this.#error(ws, "not_authorized", frame.ref);
      return;
    }
    const now = Date.now();
    this.load.begin();
    try {
      if (isPresenceFrame(frame)) {
        const settings = frame.type === "settings.get" || frame.type === "settings.set";
        if (!settings && shedDecision(Priority.Ephemeral, this.load.level(now)) === "drop") {
          costs.shed++;
          // A request that waits for an answer gets one; typing and heartbeats just go.
          if (frame.ref !== undefined && frame.type !== "typing" && frame.type !== "presence.active") this.#error(ws, "unavailable", frame.ref);
          return;
        }
        return await handlePresenceFrame(
          {
            env: this.env,
            store: this.#store,
            presence: this.#presence,
            me: socket.user,
            ws,
            sockets: () => this.ctx.getWebSockets(),
            reply: (f) => this.#send(ws, f),
            broadcast: (f) => this.#broadcast(f),
            others: (f) => this.#broadcast(f, ws),
            error: (code, ref, message) => this.#error(ws, code, ref, message),
          },
          frame,
        );
      }
      if (isGroupFrame(frame)) {
        return await handleGroupFrame(
          {
            env: this.env,
            store: this.#store,
            limits: this.#limits,
            acks: this.#groupAcks,
            // group.send takes its token there: a resend of a stored message is answered whatever the rate.
            sendQuota: this.#sendQuota,
            groupCreates: this.#groupCreates,
            ws,
            me: socket.user,
            reply: (f) => this.#send(ws, f),
            others: (f) => this.#broadcast(f, ws),
            error: (code, ref, message) => this.#error(ws, code, ref, message),
          },
          frame,
        );
      }
      switch (frame.type) {
        case "msg.send":
          return await this.#onSend(ws, socket, frame);
        case "sync":
          return this.#onSync(ws, socket, frame);
        case "history":
          return this.#onHistory(ws, frame);
        case "receipt.delivered":
        case "receipt.read":
          return await this.#onReceipt(ws, frame);
      }
    } catch (err) {
      // A call to another object failed (overloaded, unreachable): nothing
      // was acknowledged, so the client may simply try again.
      if (isOverloaded(err)) this.load.platformOverloaded(Date.now());
      log("frame_failed", { user: socket.user, type: frame.type, error: String(err) });
      this.#error(ws, isRemote(err) || isOverloaded(err) || isRetryable(err) ? "unavailable" : "internal", frame.ref);
    } finally {
      this.load.end();
      // After the frame, so a settings change is reported with its new visibility.
      if (USER_ACTIVITY[frame.type]) this.#presence.activity(socket.user, now);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005 and 1006 are reserved: they describe a close, they cannot be sent.
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code);
    await this.#socketGone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    log("socket_error", { user: attachmentOf(ws)?.user, error: String(error) });
    closeQuietly(ws, 1011);
    await this.#socketGone(ws);
  }

  /** Drops the socket's presence subscriptions; the last device leaving sets "last seen". */
  async #socketGone(ws: WebSocket): Promise<void> {
    const me = attachmentOf(ws)?.user;
    if (!me) return;
    const others = this.ctx.getWebSockets().filter((s) => s !== ws && s.readyState === WebSocket.OPEN);
    try {
      await this.#presence.socketClosed(me, ws, others);
      if (others.length === 0) await this.#presence.lastDeviceGone(me);
    } catch (err) {
      log("presence_update_failed", { user: me, error: String(err) });
    }
  }

  /**
   * Past its frame budget: the socket is closed with 1008, and for
   * FLOOD_COOLDOWN_MS no new socket is accepted, so reconnecting at once
   * does not buy a fresh budget. Frames already on their way are dropped unread.
   */
  #closeFlooding(ws: WebSocket): void {
    costs.shed++;
    this.#floodedUntil = Date.now() + this.#quotas.floodCooldownMs;
    log("socket_flooding", { user: attachmentOf(ws)?.user, device: attachmentOf(ws)?.device });
    closeQuietly(ws, FLOOD_CLOSE_CODE, this.#frameBudget.reason);
  }

  /** The per-user send quota: a flood gets `rate_limited` and writes nothing. */
  #answerIfFlooding(ws: WebSocket, frame: ClientFrameOf<"msg.send">): boolean {
    const verdict = this.#sendQuota.take(ws, frame.clientId, Date.now());
    if (verdict.ok) return true;
    this.#send(ws, { type: "error", code: "rate_limited", message: FRAME_ERRORS.rate_limited, ref: frame.ref, retryAfterMs: verdict.retryAfterMs, resendFirst: verdict.resendFirst });
    return false;
  }

  // ---- frames from my devices ------------------------------------------------------

  async #onSend(ws: WebSocket, socket: SocketAttachment, frame: ClientFrameOf<"msg.send">): Promise<void> {
    const me = socket.user;
    // A resend of a stored message costs no write: answered whatever the rate.
    if (this.#answerResend(ws, frame)) return;
    if (!this.#answerIfFlooding(ws, frame)) return;
    if (frame.to === me) return this.#error(ws, "invalid_recipient", frame.ref);
    if (!this.#store.chat(frame.to)) {
      const exists = await this.#userExists(frame.to);
      if (!exists) return this.#error(ws, "unknown_user", frame.ref);
      // The lookup awaited: the same resend may have been stored meanwhile.
      if (this.#answerResend(ws, frame)) return;
    }
    const now = Date.now();
    // Behind a queue that is waiting to retry, the new message waits too:
    // a peer receives my messages in the order I sent them.
    const queuedUntil = this.#store.peerDueAt(frame.to);
    const message = this.#store.storeOutgoing(me, frame.to, frame.clientId, frame.text, now, queuedUntil);
    // Sent before any await, so no other event's frame can overtake this rev.
    // The output gate holds them until the writes above are durable, so
    // `msg.sent` means stored.
    this.#send(ws, { type: "msg.sent", ref: frame.ref, clientId: message.clientId, id: message.id, chat: frame.to, seq: message.seq, rev: message.rev, sentAt: now, duplicate: false });
    this.#broadcast({ type: "msg", message: { ...message, chat: frame.to, status: "sent" } }, ws);
    // No queue row is written for the hand-over: if a restart cuts it off,
    // the alarm's sweep finds the message by its seq and hands it over then.
    await this.#alarm.within(now, this.#recoveryMs);
    if (queuedUntil === undefined) void this.#deliver(frame.to);
  }

  /**
   * Whether a first-time recipient exists. Concurrent sends to the same new
   * peer share one lookup, so they resume (and take seqs) in the order they arrived.
   */
  #userExists(user: string): Promise<boolean> {
    let lookup = this.#lookups.get(user);
    if (!lookup) {
      lookup = accountStub(this.env, user)
        .exists()
        .finally(() => this.#lookups.delete(user));
      this.#lookups.set(user, lookup);
    }
    return lookup;
  }

  /** A resend of a stored message gets the first answer again. */
  #answerResend(ws: WebSocket, frame: ClientFrameOf<"msg.send">): boolean {
    const stored = this.#store.sentByClientId(frame.clientId);
    if (!stored) return false;
    if (stored.chat !== frame.to) {
      // A client id names one message; reusing it for another chat is a client bug, not a resend.
      this.#error(ws, "bad_frame", frame.ref, "clientId: already used for a message to another user.");
      return true;
    }
    this.#send(ws, { type: "msg.sent", ref: frame.ref, clientId: stored.clientId, id: stored.id, chat: stored.chat, seq: stored.seq, rev: stored.rev, sentAt: stored.sentAt, duplicate: true });
    return true;
  }

  #onSync(ws: WebSocket, socket: SocketAttachment, frame: ClientFrameOf<"sync">): void {
    const limit = this.#limits.syncPageSize;
    // A cursor from the future (the server's state was reset) is treated like
    // a new device rather than trusted.
    if (frame.after === undefined || frame.after > this.#store.rev) {
      const recent = this.#store.recent(limit);
      this.#send(ws, { type: "sync.page", ref: frame.ref, ...recent, failures: [], more: false });
      return;
    }
    this.#store.setDeviceCursor(socket.device, frame.after);
    this.#send(ws, { type: "sync.page", ref: frame.ref, ...this.#store.syncAfter(frame.after, limit) });
  }

  #onHistory(ws: WebSocket, frame: ClientFrameOf<"history">): void {
    if (!this.#store.chat(frame.chat)) return this.#error(ws, "unknown_chat", frame.ref);
    const page = this.#store.history(frame.chat, frame.before, frame.limit ?? this.#limits.historyPageSize);
    this.#send(ws, { type: "history.page", ref: frame.ref, chat: frame.chat, ...page });
  }

  async #onReceipt(ws: WebSocket, frame: ClientFrameOf<"receipt.delivered"> | ClientFrameOf<"receipt.read">): Promise<void> {
    const kind = frame.type === "receipt.read" ? "read" : "delivered";
    const result = this.#store.acknowledge(frame.chat, kind, frame.upto);
    if (!result) return this.#error(ws, "unknown_chat", frame.ref);
    // My other devices clear the chat's unread count.
    if (result.chat) this.#broadcast({ type: "receipt", ...result.chat });
    if (!result.moved) return;
    const priority = kind === "read" ? Priority.ReadReceipt : Priority.DeliveryReceipt;
    if (shedDecision(priority, this.load.level(Date.now())) === "defer") {
      // Overloaded: the watermark waits in the queue (and coalesces) instead of a call now.
      this.#store.deferReceipt(frame.chat, Date.now() + Math.max(1_000, this.#retry.baseMs));
      return this.#armAlarm();
    }
    // A stored read watermark that a restart keeps from the peer is told by the sweep.
    if (kind === "read") await this.#alarm.within(Date.now(), this.#recoveryMs);
    void this.#sendReceipts(frame.chat);
  }

  // ---- calls from other users' objects ----------------------------------------------

  /**
   * Stores messages another user's object delivers to me and pushes them to my
   * devices. Idempotent: a retried batch stores nothing twice. Returns the
   * last seq from `from` I now hold, so the sender can clear its queue.
   */
  async receive(from: string, to: string, messages: WireMessage[]): Promise<{ lastIn: number }> {
    if (!this.#claim(to) || messages.some((m) => m.from !== from || m.to !== to)) {
      throw new Error("not_authorized: messages addressed to another user");
    }
    const { stored, lastIn } = this.#store.storeIncoming(from, messages);
    for (const message of stored) this.#broadcast({ type: "msg", message });
    return { lastIn };
  }

  /** The peer's receipt watermarks for my messages to them. */
  async applyReceipts(from: string, to: string, delivered: number, read: number): Promise<void> {
    if (!this.#claim(to)) throw new Error("not_authorized: receipts addressed to another user");
    const chat = this.#store.applyPeerReceipts(from, delivered, read);
    if (chat) this.#broadcast({ type: "receipt", ...chat });
  }

  /**
   * A group object tells me about my membership and/or shows me new messages.
   * Message bodies are not stored here (the group keeps the one copy); they
   * are pushed to my connected devices, and offline devices sync from the group.
   */
  async groupDelivery(group: string, delivery: GroupDelivery): Promise<void> {
    if (delivery.membership && this.#store.setGroup(delivery.membership)) {
      this.#broadcast({ type: "group.changed", membership: delivery.membership, rev: this.#store.rev });
    }
    if (!this.#store.group(group)) return; // not (yet) one of my groups: nothing to show
    for (const message of delivery.messages) this.#broadcast({ type: "group.msg", message });
  }

  /** The group-wide receipt watermarks moved past messages I sent. */
  async groupReceipt(group: string, delivered: number, read: number): Promise<void> {
    this.#broadcast({ type: "group.receipt", group, delivered, read });
  }

  /** Members the group could not reach for one of my messages. */
  async groupFailed(report: Omit<GroupFailedFrame, "type">): Promise<void> {
    this.#broadcast({ type: "group.failed", ...report });
  }

  /** A presence shard reports a change for someone my devices subscribed to. */
  async presenceChanged(record: PresenceRecord): Promise<void> {
    const me = this.#store.owner();
    const sockets = this.ctx.getWebSockets().filter((ws) => attachmentOf(ws)?.subs?.includes(record.user));
    if (!me || sockets.length === 0) return;
    const wasHidden = this.#presence.lastHidden.get(record.user) ?? true;
    const view = await this.#presence.view(me, record);
    // Pushing "hidden" on every change would still reveal when they come and go.
    if (view.hidden && wasHidden) return;
    const json = JSON.stringify({ type: "presence", ...view } satisfies ServerFrame);
    for (const ws of sockets) trySend(ws, json);
  }

  /** For privacy ("my contacts"): do I have a chat with this user? */
  async isContact(user: string): Promise<boolean> {
    return this.#store.isContact(user);
  }

  /** Someone is typing to me (or in a group I am in): pushed, never stored. */
  async typing(signal: TypingSignal): Promise<void> {
    if (signal.group !== undefined && !this.#store.group(signal.group)?.active) return;
    if (signal.chat !== undefined && !this.#store.isContact(signal.from)) return;
    this.#broadcast({ type: "typing", ...signal, ttlMs: TYPING_TTL_MS });
  }

  /**
   * The user signed out everywhere or changed the password, so tokens before
   * `version` are revoked: their sockets end with 4001, and upgrades carrying
   * them are refused from now on. The gateway checks the account before it
   * forwards an upgrade; this closes the gap of an upgrade checked just
   * before the sign-out that arrives here after it. Stored, since the
   * refusal must outlive the object's memory.
   */
  async revokeSessions(version: number): Promise<void> {
    if (version > this.#minTokenVersion()) this.ctx.storage.kv.put(MIN_TOKEN_VERSION_KEY, version);
    for (const ws of this.ctx.getWebSockets()) {
      if ((attachmentOf(ws)?.tokenVersion ?? 0) < version) closeQuietly(ws, WS_CLOSE_TOKEN_REVOKED, WS_CLOSE_TOKEN_REVOKED_REASON);
    }
  }

  #minTokenVersion(): number {
    return this.ctx.storage.kv.get<number>(MIN_TOKEN_VERSION_KEY) ?? 0;
  }

  // ---- retry queues ---------------------------------------------------------------------

  /** Retries what is due, and sweeps up what a restart may have cut off. */
  override async alarm(): Promise<void> {
    costs.alarmRuns++;
    this.#alarm.fired();
    const now = Date.now();
    const peers = new Set([...this.#store.duePeers(now), ...this.#store.unhandedPeers()]);
    await forEachLimited([...peers], ALARM_CONCURRENCY, (peer) => this.#deliver(peer));
    const receiptPeers = new Set([...this.#store.dueReceiptPeers(now), ...this.#store.untoldPeers()]);
    await forEachLimited([...receiptPeers], ALARM_CONCURRENCY, (peer) => this.#sendReceipts(peer));
    this.#store.writeAllLazyMarks();
    await this.#armAlarm();
  }

  #deliver(peer: string): Promise<void> {
    return singleFlight(this.#delivering, peer, () => this.#deliverQueue(peer));
  }

  /** Hands my queued messages to the peer's object, oldest first, until none remain or a call fails. */
  async #deliverQueue(peer: string): Promise<void> {
    const me = this.#store.owner();
    if (!me) return;
    for (;;) {
      const batch = this.#store.pendingFor(peer, DELIVERY_BATCH);
      if (batch.length === 0) return;
      try {
        const { lastIn } = await userStub(this.env, peer).receive(me, peer, batch);
        // Never loop on a batch the peer did not take.
        if (lastIn < batch[batch.length - 1]!.seq) throw new Error(`peer stored up to seq ${lastIn} of ${batch[batch.length - 1]!.seq}`);
        this.#store.deliveredToPeer(peer, lastIn);
      } catch (err) {
        if (isOverloaded(err)) this.load.platformOverloaded(Date.now());
        const failures = this.#store.deliveryFailed(peer, String(err), this.#retry, Date.now());
        log("delivery_failed", { user: me, peer, queued: batch.length, failed: failures.length, error: String(err) });
        this.#announceFailures(failures);
        await this.#armAlarm();
        return;
      }
    }
  }

  #announceFailures(failures: Failure[]): void {
    for (const failure of failures) this.#broadcast({ type: "msg.failed", ...failure });
  }

  #sendReceipts(peer: string): Promise<void> {
    return singleFlight(this.#receipting, peer, () => this.#sendReceiptQueue(peer));
  }

  async #sendReceiptQueue(peer: string): Promise<void> {
    const me = this.#store.owner();
    if (!me) return;
    let pending = this.#store.receiptToSend(peer);
    while (pending) {
      try {
        await userStub(this.env, peer).applyReceipts(me, peer, pending.delivered, pending.read);
        pending = this.#store.receiptSent(peer, pending.delivered, pending.read);
      } catch (err) {
        const kept = this.#store.receiptFailed(peer, this.#retry, Date.now());
        log("receipt_failed", { user: me, peer, dropped: !kept, error: String(err) });
        await this.#armAlarm();
        return;
      }
    }
  }

  /** One alarm, at the earliest time any queued work is due. */
  #armAlarm(): Promise<void> {
    return this.#alarm.atLatest(this.#store.nextDueAt());
  }

  // ---- helpers -----------------------------------------------------------------------


  /** Learns whose object this is on first contact; refuses anyone else after. */
  #claim(user: string): boolean {
    const owner = this.#store.owner();
    if (owner === undefined) this.#store.setOwner(user);
    return owner === undefined || owner === user;
  }

  #send(ws: WebSocket, frame: ServerFrame): void {
    trySend(ws, JSON.stringify(frame));
  }

  /** Sends one frame to every device of this user (serialised once). */
  #broadcast(frame: ServerFrame, except?: WebSocket): void {
    const json = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) if (ws !== except) trySend(ws, json);
  }

  #error(ws: WebSocket, code: FrameErrorCode, ref?: string, message: string = FRAME_ERRORS[code]): void {
    this.#send(ws, ref === undefined ? { type: "error", code, message } : { type: "error", code, message, ref });
  }
}

/** An upgrade this object will not take, answered like the gateway's HTTP errors. */
function refuse(code: HttpErrorCode, message: string, retryAfterMs?: number): Response {
  const headers = retryAfterMs === undefined ? undefined : { "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  return Response.json({ error: { code, message } } satisfies HttpErrorBody, { status: HTTP_ERRORS[code], headers });
}

function singleFlight(running: Map<string, Promise<void>>, key: string, run: () => Promise<void>): Promise<void> {
  const existing = running.get(key);
  if (existing) return existing;
  const promise = run().finally(() => running.delete(key));
  running.set(key, promise);
  return promise;
}
