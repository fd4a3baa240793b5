/**
 * Every error a client can see, in one place. WebSocket errors arrive as
 * `{ type: "error", code, message, ref? }`; HTTP errors as
 * `{ error: { code, message } }` with the status below.
 */
export const FRAME_ERRORS = {
  bad_json: "The frame is not valid JSON.",
  bad_frame: "The frame does not match its schema.",
  unknown_type: "Unknown frame type.",
  binary_not_supported: "Binary frames are not supported; send JSON text.",
  frame_too_large: "The frame is larger than maxFrameBytes.",
  text_too_large: "The message text is larger than maxTextBytes.",
  unknown_user: "No user has that username.",
  invalid_recipient: "You cannot send a message to yourself.",
  unknown_chat: "You have no chat with that user.",
  not_authorized: "You are not allowed to do that.",
  unknown_group: "No group has that id.",
  not_a_member: "You are not a member of that group.",
  not_admin: "Only the group's admins may do that.",
  group_full: "The group is at its member cap.",
  not_in_group: "That user is not a member of the group.",
  unavailable: "A service the request needs did not answer; try again.",
  rate_limited: "Too many messages; slow down and retry after retryAfterMs.",
  too_many_subscriptions: "This socket would follow more users than PRESENCE_MAX_SUBSCRIPTIONS; nothing was subscribed. Unsubscribe some first.",
  internal: "Something went wrong on the server; the frame was not processed.",
} as const;
export type FrameErrorCode = keyof typeof FRAME_ERRORS;

export const HTTP_ERRORS = {
  bad_request: 400,
  invalid_username: 400,
  weak_password: 400,
  username_taken: 409,
  invalid_credentials: 401,
  too_many_attempts: 429,
  /** The user has MAX_SOCKETS_PER_USER sockets open already. */
  too_many_sockets: 429,
  /** A socket of this user was just closed for flooding (FLOOD_COOLDOWN_MS). */
  flood_cooldown: 429,
  unauthorized: 401,
  token_expired: 401,
  token_invalid: 401,
  origin_not_allowed: 403,
  not_authorized: 403,
  not_found: 404,
  upgrade_required: 426,
  server_misconfigured: 500,
  internal: 500,
  payload_too_large: 413,
  token_revoked: 401,
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string };
}

/** Why an outgoing message finally failed (reported in `msg.failed`). */
export type FailureReason = "unreachable";
