import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLIENT_FRAME_SCHEMAS, DEFAULT_LIMITS, FRAME_ERRORS, parseClientFrame, utf8Length, type Limits, type ParseResult } from "../../src/protocol";

const limits: Limits = { ...DEFAULT_LIMITS, maxTextBytes: 12, maxFrameBytes: 200 };

function parse(frame: unknown): ParseResult {
  return parseClientFrame(JSON.stringify(frame), limits);
}

function send(text: string): ParseResult {
  return parse({ type: "msg.send", ref: "r1", clientId: "c1", to: "bob", text });
}

describe("parseClientFrame", () => {
  it("accepts each well-formed client frame", () => {
    const frames = [
      { type: "msg.send", clientId: "c1", to: "bob", text: "hi" },
      { type: "sync" },
      { type: "sync", after: 0 },
      { type: "history", chat: "bob", before: 10, limit: 200 },
      { type: "receipt.delivered", chat: "bob", upto: 1 },
      { type: "receipt.read", chat: "bob", upto: 3, ref: "r9" },
    ];
    for (const frame of frames) expect(parse(frame)).toEqual({ ok: true, frame });
  });

  it("reports malformed JSON as bad_json", () => {
    expect(parseClientFrame('{"type":"sync"', limits)).toMatchObject({ ok: false, code: "bad_json" });
  });

  it("reports a JSON value that is not an object as bad_frame", () => {
    for (const raw of ["[]", "null", "42", '"sync"', "true"]) {
      expect(parseClientFrame(raw, limits)).toMatchObject({ ok: false, code: "bad_frame" });
    }
  });

  it("reports an object without a string type as bad_frame", () => {
    expect(parse({ ref: "r1" })).toMatchObject({ ok: false, code: "bad_frame", ref: "r1" });
    expect(parse({ type: 7 })).toMatchObject({ ok: false, code: "bad_frame" });
  });

  it("reports a type it does not know as unknown_type, echoing the ref", () => {
    expect(parse({ type: "msg.delete", ref: "r2" })).toMatchObject({ ok: false, code: "unknown_type", ref: "r2" });
    // Inherited properties are not frame types.
    expect(parse({ type: "toString" })).toMatchObject({ ok: false, code: "unknown_type" });
    expect(parse({ type: "__proto__" })).toMatchObject({ ok: false, code: "unknown_type" });
  });

  it("names the missing field of a bad_frame and echoes the ref", () => {
    const result = parse({ type: "msg.send", ref: "r1", to: "bob", text: "hi" });
    expect(result).toMatchObject({ ok: false, code: "bad_frame", ref: "r1" });
    expect(!result.ok && result.message).toMatch(/^clientId: /);
  });

  it("names the wrongly typed or out-of-range field of a bad_frame", () => {
    const cases: [unknown, string][] = [
      [{ type: "sync", after: "1" }, "after"],
      [{ type: "sync", after: -1 }, "after"],
      [{ type: "sync", after: 1.5 }, "after"],
      [{ type: "history", chat: "bob", limit: 201 }, "limit"],
      [{ type: "history", chat: "Bob!" }, "chat"],
      [{ type: "receipt.read", chat: "bob", upto: 0 }, "upto"],
      [{ type: "msg.send", clientId: "c1", to: "bob", text: "" }, "text"],
      [{ type: "msg.send", clientId: "x".repeat(65), to: "bob", text: "hi" }, "clientId"],
      [{ type: "sync", ref: 5 }, "ref"],
    ];
    for (const [frame, field] of cases) {
      const result = parse(frame);
      expect(result, JSON.stringify(frame)).toMatchObject({ ok: false, code: "bad_frame" });
      expect(!result.ok && result.message, JSON.stringify(frame)).toMatch(new RegExp(`^${field}: `));
    }
  });

  it("refuses a frame over maxFrameBytes before parsing it", () => {
    // Not even JSON: the size is checked first.
    expect(parseClientFrame("x".repeat(201), limits)).toMatchObject({ ok: false, code: "frame_too_large" });
    expect(parseClientFrame("x".repeat(200), limits)).toMatchObject({ ok: false, code: "bad_json" });
  });

  it("counts the frame size in UTF-8 bytes, not characters", () => {
    // 100 characters but 300 bytes.
    const raw = JSON.stringify({ type: "msg.send", clientId: "c1", to: "bob", text: "€".repeat(80) });
    expect(raw.length).toBeLessThan(200);
    expect(utf8Length(raw)).toBeGreaterThan(200);
    expect(parseClientFrame(raw, limits)).toMatchObject({ ok: false, code: "frame_too_large" });
  });

  it("accepts a text of exactly maxTextBytes and refuses one byte more, echoing the ref", () => {
    expect(send("a".repeat(12))).toMatchObject({ ok: true });
    expect(send("a".repeat(13))).toEqual({ ok: false, code: "text_too_large", message: expect.any(String), ref: "r1" });
  });

  it("counts text in UTF-8 bytes: multi-byte characters fill the limit sooner", () => {
    expect(send("éééééé")).toMatchObject({ ok: true }); // 6 characters, 12 bytes
    expect(send("ééééééé")).toMatchObject({ ok: false, code: "text_too_large" }); // 14 bytes
    expect(send("😀😀😀")).toMatchObject({ ok: true }); // 12 bytes
    expect(send("😀😀😀a")).toMatchObject({ ok: false, code: "text_too_large" }); // 13 bytes in 7 UTF-16 units
  });

  it("refuses binary frames", () => {
    expect(parseClientFrame(new TextEncoder().encode('{"type":"sync"}').buffer as ArrayBuffer, limits)).toMatchObject({
      ok: false,
      code: "binary_not_supported",
    });
  });

  it("never echoes a ref longer than an id may be", () => {
    const result = parse({ type: "sync", ref: "r".repeat(100) });
    expect(result).toMatchObject({ ok: false, code: "bad_frame" });
    expect(!result.ok && result.ref?.length).toBe(64);
  });
});

describe("parseClientFrame properties", () => {
  const errorCodes = Object.keys(FRAME_ERRORS);
  const frameTypes = Object.keys(CLIENT_FRAME_SCHEMAS);

  function expectParsedOrTypedError(raw: string): void {
    const result = parseClientFrame(raw, DEFAULT_LIMITS);
    if (result.ok) {
      expect(frameTypes).toContain(result.frame.type);
    } else {
      expect(errorCodes).toContain(result.code);
      expect(result.message).toEqual(expect.any(String));
    }
  }

  it("turns any JSON value into a frame or a typed error, never an exception", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => expectParsedOrTypedError(JSON.stringify(value) ?? "null")));
  });

  it("turns any object shaped like a frame into a frame or a typed error", () => {
    const frameLike = fc.record(
      {
        type: fc.oneof(fc.constantFrom(...frameTypes), fc.string()),
        ref: fc.oneof(fc.string(), fc.integer()),
        clientId: fc.string(),
        to: fc.oneof(fc.stringMatching(/^[a-z0-9_]{3,32}$/), fc.string()),
        chat: fc.stringMatching(/^[a-z0-9_]{1,34}$/),
        text: fc.string({ unit: "grapheme" }),
        after: fc.oneof(fc.integer(), fc.double()),
        before: fc.integer(),
        upto: fc.integer(),
        limit: fc.integer(),
      },
      { requiredKeys: ["type"] },
    );
    fc.assert(fc.property(frameLike, (frame) => expectParsedOrTypedError(JSON.stringify(frame))));
  });

  it("turns any string at all into a frame or a typed error", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), expectParsedOrTypedError));
  });

  it("accepts every valid msg.send whose text fits, and returns it unchanged", () => {
    const msgSend = fc.record({
      type: fc.constant("msg.send" as const),
      clientId: fc.string({ minLength: 1, maxLength: 64 }),
      to: fc.stringMatching(/^[a-z0-9_]{3,32}$/),
      text: fc.string({ minLength: 1, unit: "grapheme" }),
    });
    fc.assert(
      fc.property(msgSend, (frame) => {
        const result = parseClientFrame(JSON.stringify(frame), DEFAULT_LIMITS);
        expect(result).toEqual({ ok: true, frame });
      }),
    );
  });
});
