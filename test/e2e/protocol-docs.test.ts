/**
 * docs/protocol.md against the code: every client frame and its fields,
 * every server frame and its fields, every error code with its HTTP status,
 * and every setting. A frame, field, code or variable added on one side and
 * not the other fails here, so the document users read stays true.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLIENT_FRAME_SCHEMAS, FRAME_ERRORS, HTTP_ERRORS, type ServerFrame } from "../../src/protocol";

const ROOT = join(import.meta.dirname, "../..");
const doc = readFileSync(join(ROOT, "docs/protocol.md"), "utf8");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, "") === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = lines[start]!.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The cells of every table row (header and separator rows left out). */
function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("| ") && !/^\|[\s|:-]+\|$/.test(l))
    .map((l) => l.slice(1, -1).split(" | ").map((c) => c.trim()));
}

/** The `backticked` names in a piece of text. */
function names(text: string): string[] {
  return [...text.matchAll(/`([A-Za-z_.]+)`/g)].map((m) => m[1]!);
}

/** The first table of a piece of text (a section may hold several). */
function firstTable(text: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| "));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith("|"));
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** Every row whose first cell names `type`. */
function rowsFor(text: string, type: string): string[][] {
  return rows(text).filter((r) => names(r[0]!).includes(type));
}

/** The fields a frame's schema declares (besides `type` and `ref`), `?` marking optional ones. */
function schemaFields(type: keyof typeof CLIENT_FRAME_SCHEMAS): string[] {
  const schema = CLIENT_FRAME_SCHEMAS[type] as unknown as { entries?: Record<string, { type: string }>; pipe?: { entries?: Record<string, { type: string }> }[] };
  const entries = schema.entries ?? schema.pipe![0]!.entries!;
  return Object.entries(entries)
    .filter(([name]) => name !== "type" && name !== "ref")
    .map(([name, field]) => (field.type === "optional" ? `${name}?` : name))
    .sort();
}

/**
 * The fields the document gives a client frame: in its row of section 3, or
 * after `**type**` as `{a, b?, c}` where the row says "section N".
 */
function documentedClientFields(type: string): string[] {
  const row = rowsFor(section(doc, "Client → server"), type)[0];
  if (!row) return [];
  if (!row[1]!.startsWith("section")) {
    if (row[1] === "(none)") return [];
    // "`after`? integer ≥ 0: the last `rev` ...; `limit`? ...": each clause starts with its field.
    return row[1]!
      .split(";")
      .map((clause) => clause.trim().match(/^`([A-Za-z]+)`(\?)?/))
      .filter((m) => m !== null)
      .map((m) => `${m[1]}${m[2] ?? ""}`)
      .sort();
  }
  const escaped = type.replaceAll(".", "\\.");
  const line = doc.split("\n").find((l) => new RegExp(`^\\*\\*${escaped}\\*\\*( / \\*\\*[a-z.]+\\*\\*)? \`\\{`).test(l) || new RegExp(`^\\*\\*[a-z.]+\\*\\* / \\*\\*${escaped}\\*\\* \`\\{`).test(l));
  if (!line) return [`(no **${type}** {fields} line)`];
  const inner = line.match(/`\{([^}]*)\}`/)![1]!;
  return inner
    .split(/[,|]/)
    .map((f) => f.trim())
    .filter(Boolean)
    .sort();
}

/**
 * Every server frame type with every field it may carry (besides `type`).
 * The mapped type makes this list exhaustive: a frame or field added to the
 * protocol without being added here is a type error.
 */
type FieldsOf<F> = Record<Exclude<keyof F, "type">, true>;
const SERVER_FIELDS: { [K in ServerFrame["type"]]: FieldsOf<Extract<ServerFrame, { type: K }>> } = {
  hello: { user: true, device: true, rev: true, serverTime: true, limits: true },
  "msg.sent": { ref: true, clientId: true, id: true, chat: true, seq: true, rev: true, sentAt: true, duplicate: true },
  msg: { message: true },
  "msg.failed": { id: true, clientId: true, chat: true, seq: true, reason: true, rev: true },
  receipt: { chat: true, delivered: true, read: true, readByMe: true, lastIn: true, lastOut: true, rev: true },
  "sync.page": { ref: true, messages: true, chats: true, failures: true, groups: true, rev: true, more: true },
  "history.page": { ref: true, chat: true, messages: true, more: true },
  error: { code: true, message: true, ref: true, retryAfterMs: true, resendFirst: true },
  "group.created": { ref: true, info: true, duplicate: true },
  "group.info": { ref: true, info: true },
  "group.sent": { ref: true, clientId: true, group: true, id: true, seq: true, sentAt: true, duplicate: true },
  "group.page": { ref: true, group: true, messages: true, more: true, head: true, delivered: true, read: true, readByMe: true },
  "group.msginfo": { ref: true, group: true, seq: true, members: true },
  "group.msg": { message: true },
  "group.changed": { membership: true, rev: true },
  "group.receipt": { group: true, delivered: true, read: true },
  "group.failed": { group: true, seq: true, id: true, clientId: true, members: true },
  presence: { ref: true, user: true, online: true, lastSeen: true, hidden: true },
  typing: { from: true, chat: true, group: true, typing: true, ttlMs: true },
  settings: { ref: true, lastSeen: true, readReceipts: true },
};

/** The fields the document gives a server frame: its row in section 3, or in section 8's table. */
function documentedServerFields(type: string): string[] {
  const row = [...rowsFor(firstTable(section(doc, "Server → client")), type), ...rowsFor(section(doc, "Group frames: server → client"), type)].find((r) => !r[1]!.startsWith("section"));
  if (!row) return [];
  // "ChatState fields: `chat`, ..." and "`message`: Message": the backticked names before any "[{...}]" detail.
  return [...new Set(names(row[1]!.replace(/`\[\{[^`]*\}\]`/g, "")))].sort();
}

describe("docs/protocol.md", () => {
  it("lists every client frame in section 3, and no frame the server does not take", () => {
    const documented = rows(section(doc, "Client → server")).flatMap((r) => names(r[0]!));
    expect([...documented].sort()).toEqual(Object.keys(CLIENT_FRAME_SCHEMAS).sort());
  });

  it("gives every client frame exactly the fields its schema has, optional ones marked ?", () => {
    for (const type of Object.keys(CLIENT_FRAME_SCHEMAS) as (keyof typeof CLIENT_FRAME_SCHEMAS)[]) {
      expect(documentedClientFields(type), type).toEqual(schemaFields(type));
    }
  });

  it("lists every server frame in section 3, with exactly its fields in section 3 or 8", () => {
    const documented = rows(firstTable(section(doc, "Server → client"))).flatMap((r) => names(r[0]!));
    expect([...documented].sort()).toEqual(Object.keys(SERVER_FIELDS).sort());
    for (const [type, fields] of Object.entries(SERVER_FIELDS)) {
      expect(documentedServerFields(type), type).toEqual(Object.keys(fields).sort());
    }
  });

  it("documents every frame error code", () => {
    const documented = new Set([
      ...rows(section(doc, "Frame errors")).flatMap((r) => names(r[0]!)),
      ...rows(section(doc, "Group errors")).flatMap((r) => names(r[0]!)),
    ]);
    for (const code of Object.keys(FRAME_ERRORS)) expect(documented.has(code), code).toBe(true);
    for (const code of documented) expect(Object.keys(FRAME_ERRORS), code).toContain(code);
  });

  it("documents every HTTP error code with its status", () => {
    const table = rows(section(doc, "1. Accounts (HTTP)")).filter((r) => /^\d{3}$/.test(r[1]!));
    const documented = Object.fromEntries(table.map((r) => [names(r[0]!)[0], Number(r[1])]));
    expect(documented).toEqual(HTTP_ERRORS);
  });

  it("documents every wrangler.toml variable in section 11 and the README", () => {
    const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
    const vars = [...toml.slice(toml.indexOf("[vars]")).matchAll(/^([A-Z_]+) = /gm)].map((m) => m[1]!);
    expect(vars.length).toBeGreaterThan(10);
    const inDoc = new Set(rows(section(doc, "11. Limits and configuration")).flatMap((r) => names(r[0]!)));
    const inReadme = new Set(rows(section(readme, "Configuration")).flatMap((r) => r[0]!.split(" / ").flatMap(names)));
    for (const name of vars) {
      expect(inDoc.has(name), `${name} in docs/protocol.md section 11`).toBe(true);
      expect(inReadme.has(name), `${name} in the README`).toBe(true);
    }
  });
});
