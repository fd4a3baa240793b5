import type { Sql } from "./sql";

/**
 * Applies an append-only list of schema steps, each once, in one transaction.
 * Durable Object SQLite has no `PRAGMA user_version`, so applied versions are
 * recorded in a table. Never edit a step that has shipped; append a new one.
 *
 * Runs in every object's constructor, i.e. on every wake from hibernation, so
 * the common case (nothing to apply) only reads: a write statement, even
 * `CREATE TABLE IF NOT EXISTS`, would cost a commit before the first frame.
 */
export function migrate(storage: DurableObjectStorage, db: Sql, steps: readonly string[]): void {
  if (appliedVersion(db) === steps.length) return;
  storage.transactionSync(() => {
    db.script("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = appliedVersion(db) ?? 0;
    for (let version = applied + 1; version <= steps.length; version++) {
      db.script(steps[version - 1]!);
      db.run`INSERT INTO _migrations (version, applied_at) VALUES (${version}, ${Date.now()})`;
    }
  });
}

/** The newest applied step; undefined for a new object (no _migrations table yet). */
function appliedVersion(db: Sql): number | undefined {
  const table = db.one`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = '_migrations'`;
  if (!table) return undefined;
  return db.one<{ v: number | null }>`SELECT MAX(version) AS v FROM _migrations`?.v ?? 0;
}
