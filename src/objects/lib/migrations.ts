import type { Sql } from "./sql";

/**
 * Applies an append-only list of schema steps, each once, in one transaction.
 * Durable Object SQLite has no `PRAGMA user_version`, so applied versions are
 * recorded in a table. Never edit a step that has shipped; append a new one.
 */
export function migrate(storage: DurableObjectStorage, db: Sql, steps: readonly string[]): void {
  storage.transactionSync(() => {
    db.script("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = db.one<{ v: number | null }>`SELECT MAX(version) AS v FROM _migrations`?.v ?? 0;
    for (let version = applied + 1; version <= steps.length; version++) {
      db.script(steps[version - 1]!);
      db.run`INSERT INTO _migrations (version, applied_at) VALUES (${version}, ${Date.now()})`;
    }
  });
}
