import { MAX_JSON_BODY_BYTES } from "../protocol";
import { ApiError } from "./errors";

/**
 * Reads a request body as JSON, refusing it with 413 `payload_too_large` once
 * it passes `maxBytes`: at once when Content-Length says so, and in any case
 * while reading, so a chunked body (no Content-Length) is never held beyond
 * the chunk that crosses the limit. Malformed JSON is 400 `bad_request` with
 * `hint` as the message.
 *
 * @example
 * const body = await readJsonBody(c.req.raw, 'The body must be JSON: { "username": ..., "password": ... }.');
 */
export async function readJsonBody(request: Request, hint: string, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readUpTo(request, maxBytes);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ApiError("bad_request", hint);
  }
}

async function readUpTo(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Stop the client's upload rather than drain it: the answer is already known.
      reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
}
