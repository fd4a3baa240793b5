import type { ChatMessage, EdgechatClient, GroupChatMessage, Tick } from "../src/client";
import type { GroupEvent } from "../src/protocol";

/** What the app has open: a one-to-one chat (the peer's username) or a group (its id). */
export type Target = { kind: "chat"; id: string } | { kind: "group"; id: string };

/** One row of the chat list. */
export interface Entry {
  target: Target;
  title: string;
  preview: string;
  /** My last message's ticks, when the last message is mine. */
  tick?: Tick;
  time: number;
  unread: number;
}

export function sameTarget(a: Target | undefined, b: Target | undefined): boolean {
  return a !== undefined && b !== undefined && a.kind === b.kind && a.id === b.id;
}

/** One-to-one chats and groups together, the most recent first. */
export function entries(client: EdgechatClient): Entry[] {
  const list: Entry[] = [];
  for (const chat of client.chats()) {
    const last = chat.messages.at(-1);
    list.push({
      target: { kind: "chat", id: chat.chat },
      title: chat.chat,
      preview: last?.text ?? "",
      ...(last?.mine && last.status && { tick: last.status }),
      time: last?.sentAt ?? 0,
      unread: client.unread(chat.chat),
    });
  }
  for (const group of client.groupChats()) {
    const last = group.messages.at(-1);
    list.push({
      target: { kind: "group", id: group.group },
      title: group.name,
      preview: last ? groupPreview(last, client.user) : "",
      ...(last?.mine && last.status && { tick: last.status }),
      time: last?.sentAt ?? group.info?.createdAt ?? 0,
      unread: client.groupUnread(group.group),
    });
  }
  return list.sort((a, b) => b.time - a.time);
}

function groupPreview(message: GroupChatMessage, me: string | undefined): string {
  if (message.event) return describeEvent(message.event, me);
  return message.mine ? message.text : `${message.from}: ${message.text}`;
}

/** A system message in words: "alice added bob, carol"; "You removed carol". */
export function describeEvent(event: GroupEvent, me: string | undefined): string {
  const who = (user: string, first = false) => (user !== me ? user : first ? "You" : "you");
  switch (event.kind) {
    case "created":
      return `${who(event.by, true)} created the group "${event.name}"`;
    case "added":
      return `${who(event.by, true)} added ${event.users.map((u) => who(u)).join(", ")}`;
    case "removed":
      return `${who(event.by, true)} removed ${who(event.user)}`;
    case "left":
      return `${who(event.user, true)} left`;
    case "promoted":
      return `${who(event.by, true)} made ${who(event.user)} an admin`;
    case "demoted":
      return `${who(event.by, true)} dismissed ${who(event.user)} as admin`;
    case "renamed":
      return `${who(event.by, true)} renamed the group to "${event.name}"`;
  }
}

export type AnyMessage = ChatMessage | GroupChatMessage;
