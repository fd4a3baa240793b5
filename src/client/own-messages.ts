import type { FailureReason, FrameErrorCode, MessageStatus } from "../protocol";

/** A message's ticks; `pending` while it waits in the outbox for the server. */
export type Tick = "pending" | MessageStatus;

/** What the chat and group models have in common about a message they show. */
export interface ShownMessage {
  /** Server id; absent while pending. */
  id?: string;
  clientId: string;
  from: string;
  mine: boolean;
  /** Position in its stream (a chat direction, a group's log); absent while pending. */
  seq?: number;
  status?: Tick;
  failReason?: FailureReason | FrameErrorCode;
}

/**
 * The messages a model holds, by server id and (own ones) by client id: how
 * a message synced twice, or acknowledged after a resend, is found again
 * instead of added twice. Shared by ChatModel and GroupModel.
 */
export class MessageIndex<M extends ShownMessage> {
  readonly #byClientId = new Map<string, M>();
  readonly #byId = new Map<string, M>();
  /** The signed-in user, once known; pending messages created before get it then. */
  me: string | undefined;

  setMe(user: string): void {
    this.me = user;
    for (const entry of this.#byClientId.values()) if (entry.from === "") entry.from = user;
  }

  /** The entry already held for a server message (own ones also by client id, e.g. still pending). */
  find(id: string | undefined, clientId: string, mine: boolean): M | undefined {
    return (id === undefined ? undefined : this.#byId.get(id)) ?? (mine ? this.#byClientId.get(clientId) : undefined);
  }

  ownByClientId(clientId: string): M | undefined {
    return this.#byClientId.get(clientId);
  }

  add(entry: M): void {
    if (entry.id) this.#byId.set(entry.id, entry);
    if (entry.mine) this.#byClientId.set(entry.clientId, entry);
  }

  /** The server refused an own message outright: it was never stored. */
  reject(clientId: string, code: FrameErrorCode): M | undefined {
    const entry = this.#byClientId.get(clientId);
    if (!entry) return undefined;
    entry.failReason = code;
    entry.status = "failed";
    return entry;
  }

  /** A failed own message being sent again as a new one: forgotten here, returned so its model drops it from view. */
  discard(clientId: string): M | undefined {
    const entry = this.#byClientId.get(clientId);
    if (!entry || entry.status !== "failed") return undefined;
    this.#byClientId.delete(clientId);
    if (entry.id) this.#byId.delete(entry.id);
    return entry;
  }

  clear(): void {
    this.#byClientId.clear();
    this.#byId.clear();
  }
}

/** sent, delivered or read from watermarks on `seq`; failed and pending stick. */
export function tickFrom(message: Pick<ShownMessage, "seq" | "failReason">, marks: { delivered: number; read: number }): Tick {
  if (message.failReason !== undefined) return "failed";
  if (message.seq === undefined) return "pending";
  if (message.seq <= marks.read) return "read";
  if (message.seq <= marks.delivered) return "delivered";
  return "sent";
}

/** Keeps `messages` ordered by `position`, entries without one (pending) at the end; usually an append. */
export function insertOrdered<M>(messages: M[], entry: M, position: (m: M) => number | undefined): void {
  const at = position(entry) ?? Number.MAX_SAFE_INTEGER;
  let i = messages.length;
  while (i > 0 && (position(messages[i - 1]!) ?? Number.MAX_SAFE_INTEGER) > at) i--;
  messages.splice(i, 0, entry);
}

export function removeFrom<M>(messages: M[], entry: M): void {
  const i = messages.lastIndexOf(entry);
  if (i >= 0) messages.splice(i, 1);
}
