import { HTTP_ERRORS, type HttpErrorBody, type HttpErrorCode } from "../protocol";

/**
 * An HTTP failure with a stable code. Thrown anywhere in a route; the app's
 * error handler turns it into `{ error: { code, message } }`.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    /** Sent as Retry-After (seconds) with 429s. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.status = HTTP_ERRORS[code];
  }
}

export function errorResponse(code: HttpErrorCode, message: string, retryAfterMs?: number): Response {
  const body: HttpErrorBody = { error: { code, message } };
  const headers = retryAfterMs === undefined ? undefined : { "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  return Response.json(body, { status: HTTP_ERRORS[code], headers });
}
