import { EdgechatFrameError } from "./errors";
import { MAX_PRESENCE_USERS, type PresenceFrame, type PresenceState, type Settings, type SettingsFrame, type TypingFrame, type Visibility } from "../protocol";
import type { TypingState, TypingTarget } from "./events";
import type { ClientLink } from "./link";

/** While composing, "typing" is renewed this often (the server forwards it at most every 2 s; it lasts 6 s). */
const TYPING_RENEW_MS = 3_000;
/** Composing stops counting as typing after this long without a keystroke. */
const TYPING_IDLE_MS = 5_000;
/** `presence.active` is sent at most this often ("online" lasts 15 s after the last activity). */
const ACTIVE_INTERVAL_MS = 10_000;

type Timer = ReturnType<typeof setTimeout>;

/**
 * Presence, typing and settings: who is online (for the users this client
 * watches), who is typing where (each indicator expires after the server's
 * ttl unless renewed), this user's own typing (throttled) and activity
 * heartbeat, and the privacy settings.
 */
export class PresenceTracker {
  readonly #link: ClientLink;
  readonly #states = new Map<string, PresenceState>();
  /** Users subscribed to: subscriptions belong to a socket, so each new connection renews them. */
  readonly #watched = new Set<string>();
  /** "c:<peer>" or "g:<group>" -> typing user -> expiry timer. */
  readonly #typingIn = new Map<string, Map<string, Timer>>();
  readonly #typingOut = new Map<string, { renewedAt: number; idle: Timer }>();
  #lastActiveAt = Number.NEGATIVE_INFINITY;
  #settings: Settings | undefined;

  constructor(link: ClientLink) {
    this.#link = link;
  }

  state(user: string): PresenceState | undefined {
    return this.#states.get(user);
  }

  get settings(): Settings | undefined {
    return this.#settings;
  }

  async subscribe(user: string): Promise<PresenceState> {
    this.#watched.add(user);
    try {
      return await this.#ask("presence.subscribe", user);
    } catch (err) {
      // Refused for good: not followed, so not renewed on the next connection either.
      if (err instanceof EdgechatFrameError && err.code === "too_many_subscriptions") this.#watched.delete(user);
      throw err;
    }
  }

  unsubscribe(user: string): void {
    if (!this.#watched.delete(user)) return;
    this.#link.fire({ type: "presence.unsubscribe", users: [user] });
  }

  /** One request per user: each is answered by exactly one `presence` frame. */
  query(users: string[]): Promise<PresenceState[]> {
    return Promise.all([...new Set(users)].map((user) => this.#ask("presence.query", user)));
  }

  /** The user is interacting: sends `presence.active` unless one went out recently. */
  active(now = Date.now()): boolean {
    if (now - this.#lastActiveAt < ACTIVE_INTERVAL_MS) return false;
    if (!this.#link.fire({ type: "presence.active" })) return false;
    this.#lastActiveAt = now;
    return true;
  }

  /**
   * The user is composing in `target` (`composing` true on each keystroke) or
   * stopped (false: sent, cleared, left). Renewals are throttled and an idle
   * composer stops by itself.
   */
  typing(target: TypingTarget, composing: boolean, now = Date.now()): void {
    const key = keyOf(target);
    const current = this.#typingOut.get(key);
    if (!composing) {
      if (!current) return;
      clearTimeout(current.idle);
      this.#typingOut.delete(key);
      this.#link.fire({ type: "typing", ...target, typing: false });
      return;
    }
    if (current) clearTimeout(current.idle);
    const idle = setTimeout(() => this.typing(target, false), TYPING_IDLE_MS);
    if (current && now - current.renewedAt < TYPING_RENEW_MS) {
      current.idle = idle;
      return;
    }
    if (!this.#link.fire({ type: "typing", ...target, typing: true })) {
      clearTimeout(idle);
      this.#typingOut.delete(key);
      return;
    }
    this.#typingOut.set(key, { renewedAt: now, idle });
  }

  /** Who is typing in a chat or group, now. */
  typingIn(target: TypingTarget): string[] {
    return [...(this.#typingIn.get(keyOf(target))?.keys() ?? [])];
  }

  async getSettings(): Promise<Settings> {
    return settingsOf((await this.#link.request({ type: "settings.get", ref: this.#link.nextRef("st") })) as SettingsFrame);
  }

  /** Resolves when the server confirmed the change (to every device of mine). */
  async updateSettings(changes: { lastSeen?: Visibility; readReceipts?: boolean }): Promise<Settings> {
    return settingsOf((await this.#link.request({ type: "settings.set", ref: this.#link.nextRef("st"), ...changes })) as SettingsFrame);
  }

  // ---- frames and connection events --------------------------------------------------

  onPresence(frame: PresenceFrame): void {
    const { user, online, lastSeen, hidden } = frame;
    const state = { user, online, lastSeen, hidden };
    this.#states.set(user, state);
    this.#link.emit("presence", state);
  }

  onTyping(frame: TypingFrame): void {
    const target: TypingTarget = frame.group !== undefined ? { group: frame.group } : { chat: frame.chat ?? frame.from };
    this.#setTyping(target, frame.from, frame.typing ? frame.ttlMs : 0);
  }

  onSettings(frame: SettingsFrame): void {
    this.#settings = settingsOf(frame);
    this.#link.emit("settings", this.#settings);
  }

  /** A message from `from` arrived in `target`: they stopped typing it. */
  messageFrom(target: TypingTarget, from: string): void {
    if (this.#typingIn.get(keyOf(target))?.has(from)) this.#setTyping(target, from, 0);
  }

  opened(): void {
    this.#lastActiveAt = Number.NEGATIVE_INFINITY;
    const users = [...this.#watched];
    for (let i = 0; i < users.length; i += MAX_PRESENCE_USERS) {
      this.#link.fire({ type: "presence.subscribe", users: users.slice(i, i + MAX_PRESENCE_USERS) });
    }
  }

  /** The socket dropped: indicators cannot be renewed or stopped any more. */
  closed(): void {
    for (const { idle } of this.#typingOut.values()) clearTimeout(idle);
    this.#typingOut.clear();
    for (const [key, users] of this.#typingIn) {
      for (const timer of users.values()) clearTimeout(timer);
      this.#typingIn.delete(key);
      this.#link.emit("typing", { ...targetOf(key), users: [] });
    }
  }

  #ask(type: "presence.subscribe" | "presence.query", user: string): Promise<PresenceState> {
    return this.#link.request({ type, ref: this.#link.nextRef("p"), users: [user] }).then((frame) => {
      const { user: who, online, lastSeen, hidden } = frame as PresenceFrame;
      return { user: who, online, lastSeen, hidden };
    });
  }

  /** `ttlMs` 0 removes the indicator. */
  #setTyping(target: TypingTarget, from: string, ttlMs: number): void {
    const key = keyOf(target);
    const users = this.#typingIn.get(key) ?? new Map<string, Timer>();
    clearTimeout(users.get(from));
    if (ttlMs > 0) users.set(from, setTimeout(() => this.#setTyping(target, from, 0), ttlMs));
    else users.delete(from);
    if (users.size > 0) this.#typingIn.set(key, users);
    else this.#typingIn.delete(key);
    this.#link.emit("typing", { ...target, users: [...users.keys()] });
  }
}

function settingsOf(frame: SettingsFrame): Settings {
  return { lastSeen: frame.lastSeen, readReceipts: frame.readReceipts };
}

function keyOf(target: TypingTarget): string {
  return "chat" in target ? `c:${target.chat}` : `g:${target.group}`;
}

function targetOf(key: string): TypingTarget {
  return key.startsWith("c:") ? { chat: key.slice(2) } : { group: key.slice(2) };
}
