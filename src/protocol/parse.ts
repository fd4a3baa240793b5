import * as v from "valibot";
import { FRAME_ERRORS, type FrameErrorCode } from "./errors";
import { CLIENT_FRAME_SCHEMAS, type ClientFrame, type ClientFrameType } from "./frames";
import { utf8Length, type Limits } from "./limits";

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: FrameErrorCode; message: string; ref?: string };

/**
 * Turns one raw WebSocket message into a validated client frame, or a typed
 * error. The size is checked before JSON parsing so an oversize frame costs
 * no parse.
 */
export function parseClientFrame(raw: string | ArrayBuffer, limits: Limits): ParseResult {
  if (typeof raw !== "string") {
    return fail("binary_not_supported");
  }
  // A UTF-16 unit is 1 to 3 UTF-8 bytes, so the length alone settles most frames.
  const tooLarge = raw.length > limits.maxFrameBytes || (raw.length * 3 > limits.maxFrameBytes && utf8Length(raw) > limits.maxFrameBytes);
  if (tooLarge) {
    return fail("frame_too_large", `The frame is larger than ${limits.maxFrameBytes} bytes.`);
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return fail("bad_json");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return fail("bad_frame", "A frame is a JSON object with a string `type`.");
  }
  const record = data as Record<string, unknown>;
  const ref = typeof record.ref === "string" ? record.ref.slice(0, 64) : undefined;
  if (typeof record.type !== "string") {
    return fail("bad_frame", "A frame is a JSON object with a string `type`.", ref);
  }
  if (!Object.hasOwn(CLIENT_FRAME_SCHEMAS, record.type)) {
    return fail("unknown_type", `Unknown frame type "${record.type.slice(0, 40)}".`, ref);
  }
  const schema = CLIENT_FRAME_SCHEMAS[record.type as ClientFrameType];
  const result = v.safeParse(schema, data);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") || "frame";
    return fail("bad_frame", `${path}: ${issue.message}`, ref);
  }
  const frame = result.output as ClientFrame;
  if ((frame.type === "msg.send" || frame.type === "group.send") && utf8Length(frame.text) > limits.maxTextBytes) {
    return fail("text_too_large", `The message text is larger than ${limits.maxTextBytes} bytes.`, ref);
  }
  return { ok: true, frame };
}

function fail(code: FrameErrorCode, message: string = FRAME_ERRORS[code], ref?: string): ParseResult {
  return ref === undefined ? { ok: false, code, message } : { ok: false, code, message, ref };
}
