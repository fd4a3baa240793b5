import type { GroupChatMessage } from "./group-model";
import type { ChatMessage } from "./model";

/** What a send resolves with: the message as the model now holds it. */
export type SentMessage = ChatMessage | GroupChatMessage;
import type { OutboxStorage, PendingMessage } from "./storage";

interface Entry {
  message: PendingMessage;
  /** Sent on the current connection and not answered yet. */
  inFlight: boolean;
  waiters: { resolve(message: SentMessage): void; reject(error: Error): void }[];
}

/**
 * Messages the server has not acknowledged, oldest first. Each is written to
 * storage before its first send and keeps its clientId for every resend, so
 * the server stores it once however many times it goes out.
 */
export class Outbox {
  readonly #storage: OutboxStorage;
  readonly #entries = new Map<string, Entry>();

  constructor(storage: OutboxStorage) {
    this.#storage = storage;
  }

  /** Reads what an earlier session left unsent. */
  async load(): Promise<PendingMessage[]> {
    const stored = (await this.#storage.load()).sort((a, b) => a.createdAt - b.createdAt);
    for (const message of stored) {
      if (!this.#entries.has(message.clientId)) this.#entries.set(message.clientId, { message, inFlight: false, waiters: [] });
    }
    return stored;
  }

  /** Stores a new message; `settled` settles when the server answers it. */
  async add(message: PendingMessage): Promise<{ settled: Promise<SentMessage> }> {
    await this.#storage.put(message);
    const entry: Entry = { message, inFlight: false, waiters: [] };
    const settled = new Promise<SentMessage>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    // A caller may fire and forget: failures are also reported as events.
    settled.catch(() => {});
    this.#entries.set(message.clientId, entry);
    return { settled };
  }

  get(clientId: string): PendingMessage | undefined {
    return this.#entries.get(clientId)?.message;
  }

  /** Messages waiting, oldest first. */
  list(): PendingMessage[] {
    return [...this.#entries.values()].map((e) => e.message);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Marks and returns the oldest message not yet sent on this connection. */
  takeNextUnsent(): PendingMessage | undefined {
    for (const entry of this.#entries.values()) {
      if (entry.inFlight) continue;
      entry.inFlight = true;
      return entry.message;
    }
    return undefined;
  }

  /** It must go out again (the connection dropped, or the server failed to handle it). */
  unsend(clientId?: string): void {
    for (const [id, entry] of this.#entries) if (clientId === undefined || id === clientId) entry.inFlight = false;
  }

  /** The server stored it. */
  acknowledged(clientId: string, message: SentMessage): void {
    this.#finish(clientId)?.waiters.forEach((w) => w.resolve(message));
  }

  /** The server refused it for good. */
  refused(clientId: string, error: Error): void {
    this.#finish(clientId)?.waiters.forEach((w) => w.reject(error));
  }

  /** The client closes: pending sends reject, but the messages stay stored for the next session. */
  abandon(error: Error): void {
    for (const entry of this.#entries.values()) {
      for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
    }
  }

  #finish(clientId: string): Entry | undefined {
    const entry = this.#entries.get(clientId);
    if (!entry) return undefined;
    this.#entries.delete(clientId);
    // Removing it is best effort: if it fails, the next session resends it
    // and the server answers with the stored copy.
    this.#storage.delete(clientId).catch(() => {});
    return entry;
  }
}
