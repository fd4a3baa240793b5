import type { Env } from "../env";
import type { ClientFrame, ClientFrameOf, FrameErrorCode, GroupInfo, GroupMessage, Limits, ServerFrame } from "../protocol";
import type { GroupResult } from "./group";
import type { GroupAcks } from "./group-acks";
import { costs } from "./lib/metrics";
import type { UserStore } from "./user-store";

export type GroupFrame = Extract<ClientFrame, { type: `group.${string}` }>;

/** What a group frame handler needs from the user's object. */
export interface GroupFrameContext {
  env: Env;
  store: UserStore;
  limits: Limits;
  acks: GroupAcks;
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
  if (frame.type === "group.create") {
    const id = `g_${crypto.randomUUID().replaceAll("-", "")}`;
    costs.rpcCalls++;
    const result = await ctx.env.GROUP.getByName(id).create(me, id, frame.name, frame.members);
    return answer(ctx, frame, result, (info) => ctx.reply({ type: "group.created", ref: frame.ref, info }));
  }
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
      return onSend(ctx, frame, await group.send(me, frame.clientId, frame.text));
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

function onSend(ctx: GroupFrameContext, frame: ClientFrameOf<"group.send">, result: GroupResult<{ message: GroupMessage; duplicate: boolean }>): void {
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
