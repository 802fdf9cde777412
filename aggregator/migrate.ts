import { z } from 'zod';
import type { Logger } from '../platform/logger.js';
import { insertRows, selectRows, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

const migrationRow = z.object({ version: z.number(), name: z.string(), applied_at: z.string() });

export interface MigrationResult {
  readonly applied: number[];
  readonly current: number;
}

async function appliedVersions(store: Store): Promise<Set<number>> {
  const rows = await selectRows<{ version: number }>(store, `SELECT DISTINCT version FROM ${store.table('schema_migrations')}`, {});
  return new Set(rows.map((row) => Number(row.version)));
}

/**
 * Applies pending migrations in order and records each one. Safe to run from several processes
 * at once: every statement is idempotent and the record table collapses repeated versions.
 */
export async function migrate(
  store: Store,
  log: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationResult> {
  assertWellFormed(migrations);
  await store.client.command({
    query: `CREATE TABLE IF NOT EXISTS ${store.table('schema_migrations')} (
      version UInt32,
      name String,
      applied_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const done = await appliedVersions(store);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    for (const statement of migration.statements(store.table)) {
      await store.client.command({ query: statement });
    }
    await insertRows(store, 'schema_migrations', migrationRow, [
      { version: migration.version, name: migration.name, applied_at: toClickHouseTime(new Date()) },
    ]);
    applied.push(migration.version);
    log.info({ version: migration.version, name: migration.name }, 'migration applied');
  }
  const current = migrations.at(-1)?.version ?? 0;
  return { applied, current };
}

/** The schema is ready when every known migration is recorded. */
export async function isMigrated(store: Store, migrations: readonly Migration[] = MIGRATIONS): Promise<boolean> {
  const done = await appliedVersions(store);
  return migrations.every((migration) => done.has(migration.version));
}

/**
 * Versions strictly increase and never repeat. A gap is allowed: numbers are reserved for schema
 * work that lands separately, and a database simply records which ones it applied.
 */
export function assertWellFormed(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    const previous = index === 0 ? 0 : (migrations[index - 1]?.version ?? 0);
    if (!Number.isInteger(migration.version) || migration.version <= previous) {
      throw new Error(
        `migration ${migration.name} has version ${migration.version}; expected a whole number above ${previous} (numbers are unique and increasing)`,
      );
    }
  });
}
