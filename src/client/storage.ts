/** A message the user sent that the server has not acknowledged yet. */
export interface PendingMessage {
  clientId: string;
  /** A username, or a group id when `group` is true. */
  to: string;
  /** Sent with `group.send` rather than `msg.send`. */
  group?: boolean;
  text: string;
  /** Local milliseconds since the epoch: the outbox sends oldest first. */
  createdAt: number;
}

/**
 * Where the outbox lives. An entry is written before its first send and
 * removed once the server acknowledged it, so a message typed offline
 * survives a reload when the storage does.
 *
 * In memory by default; browsers can use IndexedDB (`./idb-storage`).
 */
export interface OutboxStorage {
  /** Every pending message, in any order. */
  load(): Promise<PendingMessage[]>;
  put(message: PendingMessage): Promise<void>;
  delete(clientId: string): Promise<void>;
}

/** Keeps the outbox for the life of the page or process. */
export class MemoryStorage implements OutboxStorage {
  readonly #messages = new Map<string, PendingMessage>();

  async load(): Promise<PendingMessage[]> {
    return [...this.#messages.values()].map((m) => ({ ...m }));
  }

  async put(message: PendingMessage): Promise<void> {
    this.#messages.set(message.clientId, { ...message });
  }

  async delete(clientId: string): Promise<void> {
    this.#messages.delete(clientId);
  }
}
