import type { FrameErrorCode, HttpErrorCode } from "../protocol";

/**
 * An HTTP call (register, login, logout, password change) answered with `{ error: { code, message } }`,
 * or not answered at all (`code: "network"`, `status: 0`).
 *
 * @example
 * try {
 *   await EdgechatClient.login(url, "alice", "wrong password");
 * } catch (err) {
 *   if (err instanceof EdgechatHttpError && err.code === "invalid_credentials") showLoginError();
 * }
 */
export class EdgechatHttpError extends Error {
  override readonly name = "EdgechatHttpError";
  readonly status: number;
  readonly code: HttpErrorCode | "network";

  constructor(status: number, code: HttpErrorCode | "network", message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The server refused a frame: `{ type: "error", code, message, ref }`. */
export class EdgechatFrameError extends Error {
  override readonly name = "EdgechatFrameError";
  readonly code: FrameErrorCode;

  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The client was closed before the server answered. */
export class EdgechatClosedError extends Error {
  override readonly name = "EdgechatClosedError";

  constructor(message = "The client was closed before the server answered.") {
    super(message);
  }
}
