import type { Env } from "../env";
import type { ClientFrame, ClientFrameOf, FrameErrorCode, ServerFrame } from "../protocol";
import { costs } from "./lib/metrics";
import type { UserPresence } from "./user-presence";
import type { UserStore } from "./user-store";

/** How long a "typing" indicator lasts without renewal. */
export const TYPING_TTL_MS = 6_000;
/** A renewal of "typing" is passed on at most this often per chat. */
const TYPING_FORWARD_INTERVAL_MS = 2_000;

/** Typing as it travels between objects: never stored. */
export interface TypingSignal {
  from: string;
  /** One-to-one: the chat, from the receiver's point of view (the sender). */
  chat?: string;
  group?: string;
  typing: boolean;
}

const SIGNAL_TYPES = new Set(["presence.subscribe", "presence.unsubscribe", "presence.query", "presence.active", "typing", "settings.get", "settings.set"]);
export type SignalFrame = Extract<ClientFrame, { type: `presence.${string}` | "typing" | `settings.${string}` }>;

export function isPresenceFrame(frame: ClientFrame): frame is SignalFrame {
  return SIGNAL_TYPES.has(frame.type);
}

export interface SignalContext {
  env: Env;
  store: UserStore;
  presence: UserPresence;
  me: string;
  ws: WebSocket;
  sockets(): WebSocket[];
  reply(frame: ServerFrame): void;
  broadcast(frame: ServerFrame): void;
  /** To my other devices. */
  others(frame: ServerFrame): void;
  error(code: FrameErrorCode, ref: string | undefined, message?: string): void;
}

/** When each chat last had "typing" passed on, per user object (in memory: it is ephemeral). */
const lastTypingForward = new WeakMap<UserStore, Map<string, number>>();

/** Presence, typing and settings frames: the lowest priority class, never stored except settings. */
export async function handlePresenceFrame(ctx: SignalContext, frame: SignalFrame): Promise<void> {
  const { me } = ctx;
  switch (frame.type) {
    case "presence.active":
      return; // counted as activity before it got here
    case "presence.subscribe": {
      const states = await ctx.presence.subscribe(me, ctx.ws, frame.users);
      if (states === "too_many") return ctx.error("too_many_subscriptions", frame.ref);
      for (const state of states) ctx.reply({ type: "presence", ref: frame.ref, ...state });
      return;
    }
    case "presence.unsubscribe":
      return ctx.presence.unsubscribe(me, ctx.ws, frame.users, ctx.sockets());
    case "presence.query":
      for (const state of await ctx.presence.query(me, frame.users)) ctx.reply({ type: "presence", ref: frame.ref, ...state });
      return;
    case "typing":
      return onTyping(ctx, frame);
    case "settings.get":
      return ctx.reply({ type: "settings", ref: frame.ref, ...ctx.store.settings() });
    case "settings.set": {
      const before = ctx.store.settings();
      const changes = { ...(frame.lastSeen && { lastSeen: frame.lastSeen }), ...(frame.readReceipts !== undefined && { readReceipts: frame.readReceipts }) };
      const after = ctx.store.setSettings(changes);
      // Confirmed only once peers can no longer see what was just hidden.
      if (after.lastSeen !== before.lastSeen) await ctx.presence.visibilityChanged(me);
      ctx.reply({ type: "settings", ref: frame.ref, ...after });
      ctx.others({ type: "settings", ...after });
      return;
    }
  }
}

async function onTyping(ctx: SignalContext, frame: ClientFrameOf<"typing">): Promise<void> {
  const target = frame.chat ?? frame.group!;
  if (frame.chat !== undefined && !ctx.store.isContact(frame.chat)) return ctx.error("unknown_chat", frame.ref);
  if (frame.group !== undefined && !ctx.store.group(frame.group)?.active) return ctx.error("not_a_member", frame.ref);
  const sent = lastTypingForward.get(ctx.store) ?? new Map<string, number>();
  lastTypingForward.set(ctx.store, sent);
  const now = Date.now();
  if (frame.typing && now - (sent.get(target) ?? 0) < TYPING_FORWARD_INTERVAL_MS) return;
  if (frame.typing) sent.set(target, now);
  else sent.delete(target);
  costs.rpcCalls++;
  if (frame.chat !== undefined) await ctx.env.USER.getByName(frame.chat).typing({ from: ctx.me, chat: ctx.me, typing: frame.typing });
  else await ctx.env.GROUP.getByName(frame.group!).typing(ctx.me, frame.typing);
}
