import type { ClientFrame, ServerFrame } from "../protocol";
import type { ClientEvents } from "./events";
import type { ReceiptKind } from "./receipts";
import type { RequestFrame } from "./requests";

/** What the client's parts (groups, presence) may ask of the client that owns the connection. */
export interface ClientLink {
  /** Sends a frame now; false when not connected (nothing is queued). */
  fire(frame: ClientFrame): boolean;
  /** Sends when connected (again after a reconnect) and resolves with the answer carrying its ref. */
  request(frame: RequestFrame): Promise<ServerFrame>;
  nextRef(prefix: string): string;
  emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void;
  /** Queues a receipt watermark (coalesced, resent until confirmed). */
  receipt(kind: ReceiptKind, chat: string, upto: number): void;
}
