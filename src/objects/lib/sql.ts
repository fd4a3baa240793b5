/**
 * A thin layer over `ctx.storage.sql`: queries are tagged templates, so every
 * value is bound as a parameter and never spliced into the SQL text.
 *
 * @example
 * const rows = db.all<{ id: string }>`SELECT id FROM messages WHERE peer = ${peer}`;
 */
import { costs } from "./metrics";

export type SqlValue = string | number | null | ArrayBuffer;
type Row = Record<string, SqlStorageValue>;

export class Sql {
  constructor(private readonly storage: SqlStorage) {}

  all<T extends Row = Row>(strings: TemplateStringsArray, ...values: SqlValue[]): T[] {
    return this.#exec<T>(strings, values).rows;
  }

  one<T extends Row = Row>(strings: TemplateStringsArray, ...values: SqlValue[]): T | undefined {
    return this.#exec<T>(strings, values).rows[0];
  }

  /** Runs a statement and returns how many rows it wrote. */
  run(strings: TemplateStringsArray, ...values: SqlValue[]): number {
    return this.#exec(strings, values).written;
  }

  /** Runs plain SQL with no values: migrations only. */
  script(sql: string): void {
    this.storage.exec(sql);
  }

  #exec<T extends Row>(strings: TemplateStringsArray, values: SqlValue[]): { rows: T[]; written: number } {
    const cursor = this.storage.exec<T>(textOf(strings), ...values);
    const rows = cursor.toArray();
    costs.rowsWritten += cursor.rowsWritten;
    costs.rowsRead += cursor.rowsRead;
    return { rows, written: cursor.rowsWritten };
  }
}

/** A call site's template is one object for the life of the isolate: join it once. */
const texts = new WeakMap<TemplateStringsArray, string>();

function textOf(strings: TemplateStringsArray): string {
  let text = texts.get(strings);
  if (text === undefined) texts.set(strings, (text = strings.join("?")));
  return text;
}
