import type { Env } from "../env";
import { FRAME_ERRORS, type ClientFrame, type ClientFrameOf, type FrameErrorCode, type GroupInfo, type GroupMessage, type Limits, type ServerFrame } from "../protocol";
import type { GroupObject, GroupResult } from "./group";
import type { GroupAcks } from "./group-acks";
import type { SendQuota } from "./lib/send-quota";
import type { TokenBucket } from "../protocol";
import { costs } from "./lib/metrics";
import type { UserStore } from "./user-store";

export type GroupFrame = Extract<ClientFrame, { type: `group.${string}` }>;

/** What a group frame handler needs from the user's object. */
export interface GroupFrameContext {
  env: Env;
  store: UserStore;
  limits: Limits;
  acks: GroupAcks;
  /** My flood guard on sends (all my devices together): each group.send takes a token, a resend gives it back. */
  sendQuota: SendQuota;
  /** Groups I may create per minute: a resent create that found its group gives the token back. */
  groupCreates: Pick<TokenBucket, "take" | "refund">;
  /** The socket the frame came on (the send quota's order gate is per socket). */
  ws: WebSocket;
  me: string;
  reply(frame: ServerFrame): void;
  /** To my other devices. */
  others(frame: ServerFrame): void;
  error(code: FrameErrorCode, ref: string | undefined, message?: string): void;
}

export function isGroupFrame(frame: ClientFrame): frame is GroupFrame {
  return frame.type.startsWith("group.");
}

/**
 * Group frames from my devices: the group object decides and authorises;
 * this object forwards with my identity and relays the answer.
 */
export async function handleGroupFrame(ctx: GroupFrameContext, frame: GroupFrame): Promise<void> {
  const { me } = ctx;
  if (frame.type === "group.create") return onCreate(ctx, frame);
  if (frame.type === "group.delivered" || frame.type === "group.read") {
    // Never in the group (as far as my own record goes): answered here. Otherwise
    // the group hears of it a moment later, coalesced with others (group-acks.ts).
    if (!ctx.store.group(frame.group)) return ctx.error("not_a_member", frame.ref);
    ctx.acks.add(frame.group, frame.type === "group.read" ? "read" : "delivered", frame.upto);
    return;
  }
  costs.rpcCalls++;
  const group = ctx.env.GROUP.getByName(frame.group);
  switch (frame.type) {
    case "group.add":
      return info(ctx, frame, await group.add(me, frame.members));
    case "group.remove":
      return info(ctx, frame, await group.remove(me, frame.member));
    case "group.promote":
    case "group.demote":
      return info(ctx, frame, await group.setRole(me, frame.member, frame.type === "group.promote" ? "promote" : "demote"));
    case "group.leave":
      return info(ctx, frame, await group.leave(me));
    case "group.rename":
      return info(ctx, frame, await group.rename(me, frame.name));
    case "group.info":
      return info(ctx, frame, await group.info(me));
    case "group.send":
      return onSend(ctx, frame, group);
    case "group.sync": {
      const result = await group.sync(me, frame.after, frame.limit ?? ctx.limits.historyPageSize);
      return answer(ctx, frame, result, (page) => ctx.reply({ type: "group.page", ref: frame.ref, group: frame.group, ...page }));
    }
    case "group.history": {
      const result = await group.history(me, frame.before, frame.limit ?? ctx.limits.historyPageSize);
      return answer(ctx, frame, result, (page) => ctx.reply({ type: "group.page", ref: frame.ref, group: frame.group, ...page }));
    }
    case "group.msginfo": {
      const result = await group.messageInfo(me, frame.seq);
      return answer(ctx, frame, result, (members) => ctx.reply({ type: "group.msginfo", ref: frame.ref, group: frame.group, seq: frame.seq, members }));
    }
  }
}

/**
 * The id of a group `creator` creates: `g_` and 32 hex digits. With a
 * clientId it is the first 128 bits of SHA-256 over (creator, clientId), so
 * a resent create reaches the group the first one made, while another
 * user's create with the same clientId gets a group of its own; without
 * one, random.
 */
export async function groupIdFor(creator: string, clientId?: string): Promise<string> {
  if (clientId === undefined) return `g_${crypto.randomUUID().replaceAll("-", "")}`;
  // A username has no ":", so no other (creator, clientId) pair gives the same text.
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${creator}:${clientId}`));
  return `g_${[...new Uint8Array(digest, 0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * A create costs a token of my group-creation rate. Out of tokens, a resend
 * (same clientId) of a create that made its group is still answered, as a
 * duplicate; anything else is rate_limited.
 */
async function onCreate(ctx: GroupFrameContext, frame: ClientFrameOf<"group.create">): Promise<void> {
  const id = await groupIdFor(ctx.me, frame.clientId);
  costs.rpcCalls++;
  const group = ctx.env.GROUP.getByName(id);
  const token = ctx.groupCreates.take(Date.now());
  if (!token.ok) {
    const made = frame.clientId === undefined ? undefined : await group.info(ctx.me);
    if (made?.ok) return ctx.reply({ type: "group.created", ref: frame.ref, info: made.value, duplicate: true });
    return ctx.reply({ type: "error", code: "rate_limited", message: "Too many groups created; retry after retryAfterMs.", ref: frame.ref, retryAfterMs: token.retryAfterMs });
  }
  const result = await group.create(ctx.me, id, frame.name, frame.members);
  if (result.ok && result.value.duplicate) ctx.groupCreates.refund();
  return answer(ctx, frame, result, ({ info, duplicate }) => ctx.reply({ type: "group.created", ref: frame.ref, info, duplicate }));
}

/**
 * A send costs a token of my send rate; a resend of a stored message costs
 * none and is answered whatever the rate, as msg.send does. Only the group
 * knows what it stored: with a token the group is asked to send, and the
 * token comes back if the answer is a duplicate; with none, the group is
 * only asked for the stored message, and anything new is rate_limited.
 */
async function onSend(ctx: GroupFrameContext, frame: ClientFrameOf<"group.send">, group: DurableObjectStub<GroupObject>): Promise<void> {
  const token = ctx.sendQuota.take(ctx.ws, frame.clientId, Date.now());
  if (token.ok) {
    const result = await group.send(ctx.me, frame.clientId, frame.text);
    if (result.ok && result.value.duplicate) ctx.sendQuota.refund();
    return answerSend(ctx, frame, result);
  }
  const stored = await group.sentMessage(ctx.me, frame.clientId);
  if (!stored.ok) return answerSend(ctx, frame, stored);
  if (stored.value === null) {
    const { retryAfterMs, resendFirst } = token;
    return ctx.reply({ type: "error", code: "rate_limited", message: FRAME_ERRORS.rate_limited, ref: frame.ref, retryAfterMs, resendFirst });
  }
  answerSend(ctx, frame, { ok: true, value: { message: stored.value, duplicate: true } });
}

function answerSend(ctx: GroupFrameContext, frame: ClientFrameOf<"group.send">, result: GroupResult<{ message: GroupMessage; duplicate: boolean }>): void {
  answer(ctx, frame, result, ({ message, duplicate }) => {
    ctx.reply({ type: "group.sent", ref: frame.ref, clientId: message.clientId, group: message.group, id: message.id, seq: message.seq, sentAt: message.sentAt, duplicate });
    // The group does not push my own message back to my object: my other devices hear it from here.
    if (!duplicate) ctx.others({ type: "group.msg", message });
  });
}

function info(ctx: GroupFrameContext, frame: GroupFrame, result: GroupResult<GroupInfo>): void {
  answer(ctx, frame, result, (value) => ctx.reply({ type: "group.info", ref: frame.ref, info: value }));
}

function answer<T>(ctx: GroupFrameContext, frame: GroupFrame, result: GroupResult<T>, onOk: (value: T) => void): void {
  if (result.ok) onOk(result.value);
  else ctx.error(result.code, frame.ref, result.message);
}
