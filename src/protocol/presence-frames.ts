/**
 * Presence ("online" / "last seen"), typing indicators and privacy settings.
 */
import * as v from "valibot";
import { groupId, ref, username } from "./fields";

/** Peers one frame may subscribe to or ask about. */
export const MAX_PRESENCE_USERS = 64;
const users = v.pipe(v.array(username), v.minLength(1), v.maxLength(MAX_PRESENCE_USERS));

export type Visibility = "everyone" | "contacts" | "nobody";
export const VISIBILITIES = ["everyone", "contacts", "nobody"] as const;

export const PresenceSubscribe = v.object({ type: v.literal("presence.subscribe"), ref, users });
export const PresenceUnsubscribe = v.object({ type: v.literal("presence.unsubscribe"), ref, users });
export const PresenceQuery = v.object({ type: v.literal("presence.query"), ref, users });
/** The app is in the foreground and the user is interacting (sent every ~10 s while so). */
export const PresenceActive = v.object({ type: v.literal("presence.active"), ref });
export const Typing = v.pipe(
  v.object({ type: v.literal("typing"), ref, chat: v.optional(username), group: v.optional(groupId), typing: v.boolean() }),
  v.check((f) => (f.chat === undefined) !== (f.group === undefined), "exactly one of chat or group"),
);
export const SettingsGet = v.object({ type: v.literal("settings.get"), ref });
export const SettingsSet = v.object({
  type: v.literal("settings.set"),
  ref,
  lastSeen: v.optional(v.picklist(VISIBILITIES)),
  readReceipts: v.optional(v.boolean()),
});

export const PRESENCE_FRAME_SCHEMAS = {
  "presence.subscribe": PresenceSubscribe,
  "presence.unsubscribe": PresenceUnsubscribe,
  "presence.query": PresenceQuery,
  "presence.active": PresenceActive,
  typing: Typing,
  "settings.get": SettingsGet,
  "settings.set": SettingsSet,
} as const;

export const PRESENCE_USER_ACTIVITY: Record<keyof typeof PRESENCE_FRAME_SCHEMAS, boolean> = {
  // Opening a chat subscribes: the user is looking at the screen.
  "presence.subscribe": true,
  "presence.unsubscribe": false,
  "presence.query": false,
  "presence.active": true,
  typing: true,
  "settings.get": false,
  "settings.set": true,
};

// ---- server -> client -------------------------------------------------------

export interface PresenceState {
  user: string;
  online: boolean;
  /** Last user activity (ms since the epoch); null if never seen or hidden. */
  lastSeen: number | null;
  /** True when the user's privacy settings (or yours) hide their presence from you. */
  hidden: boolean;
}

export interface Settings {
  lastSeen: Visibility;
  readReceipts: boolean;
}

export interface PresenceFrame extends PresenceState { type: "presence"; ref?: string }
export interface TypingFrame {
  type: "typing";
  from: string;
  chat?: string;
  group?: string;
  typing: boolean;
  /** Treat as stopped if not renewed within this many ms. */
  ttlMs: number;
}
export interface SettingsFrame extends Settings { type: "settings"; ref?: string }

export type PresenceServerFrame = PresenceFrame | TypingFrame | SettingsFrame;
