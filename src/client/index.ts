/**
 * The edgechat client SDK: browsers and Node 22 (or any runtime with a
 * WebSocket). It imports only the protocol. For an outbox that survives page
 * reloads, browsers import `IdbStorage` from `./idb-storage` separately.
 */
export { EdgechatClient, type ClientEvents, type ClientOptions } from "./client";
export {
  reconnectDelay,
  DEFAULT_HEARTBEAT,
  DEFAULT_RECONNECT,
  type ConnectionStatus,
  type HeartbeatPolicy,
  type ReconnectPolicy,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./connection";
export { Cursor } from "./cursor";
export { Emitter } from "./emitter";
export { EdgechatClosedError, EdgechatFrameError, EdgechatHttpError } from "./errors";
export type { TypingState, TypingTarget } from "./events";
export { GroupModel, type GroupChat, type GroupChatMessage } from "./group-model";
export type { GroupAction } from "./groups";
export type { Session } from "./http";
export { ChatModel, type Chat, type ChatMessage } from "./model";
export { MessageIndex, tickFrom, type ShownMessage, type Tick } from "./own-messages";
export type { SentMessage } from "./outbox";
export { ReceiptQueue, type ReceiptKind, type ReceiptToSend } from "./receipts";
export { MemoryStorage, type OutboxStorage, type PendingMessage } from "./storage";
