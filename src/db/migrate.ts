// Applies prisma/migrations/*/migration.sql in order, recording them in Prisma's own
// _prisma_migrations table (same checksum, same advisory lock), so `prisma migrate
// deploy` and this runner can be used interchangeably on one database.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

export const MIGRATIONS_DIR = join(import.meta.dirname, '../../prisma/migrations');
const PRISMA_MIGRATE_LOCK = 72707369;

/**
 * Which database a migration belongs to: the write model and the outbox, or the read
 * models and the projection bookkeeping (READ_DATABASE_URL). Every folder is wholly one
 * side; with one database both go to it. A new migration must be listed here.
 */
export type SchemaSide = 'write' | 'read';
export const BOTH_SIDES: readonly SchemaSide[] = ['write', 'read'];

export const MIGRATION_SIDES: Readonly<Record<string, SchemaSide>> = {
  '20261126000000_write_model': 'write',
  '20261126000100_projections': 'read',
  '20261126000200_projection_leases': 'read',
  '20261126000300_projection_rebuilds': 'read',
  '20261126000400_history_order_index': 'read',
  '20261126000500_command_begin': 'write',
  '20261201000000_rebuild_runs': 'read',
  '20261201000000_relay_checkpoints': 'write',
  '20261201054954_outbox_actor_role': 'write',
  '20261201120000_parked_events': 'read',
  '20261202000000_order_list_view_currency': 'read',
};

export interface Migration {
  name: string;
  side: SchemaSide;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const unlisted = names.filter((name) => !MIGRATION_SIDES[name]);
  if (unlisted.length) {
    throw new MigrationError(
      `migrations ${unlisted.join(', ')} have no side: list each in MIGRATION_SIDES (src/db/migrate.ts) as write or read`,
    );
  }
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, side: MIGRATION_SIDES[name]!, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Migrates the write database, and the read database when it is another one: each gets
 * its side's migrations; one database gets both. Returns what was applied, per database.
 */
export async function migrateDatabases(
  writeUrl: string,
  readUrl: string | undefined,
): Promise<{ write: string[]; read: string[] }> {
  if (!readUrl || readUrl === writeUrl) return { write: await migrate(writeUrl), read: [] };
  return { write: await migrate(writeUrl, ['write']), read: await migrate(readUrl, ['read']) };
}

/** Applies the pending migrations of `sides` (default: both, one database); returns their names. */
export async function migrate(
  databaseUrl: string,
  sides: readonly SchemaSide[] = BOTH_SIDES,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const migrations = (await readMigrations(dir)).filter((m) => sides.includes(m.side));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const done = new Map(rows.map((r) => [r.migration_name, r]));
    for (const m of migrations) {
      const row = done.get(m.name);
      if (row) {
        if (!row.finished_at) throw new MigrationError(`migration ${m.name} failed earlier; resolve it by hand`);
        if (row.checksum !== m.checksum)
          throw new MigrationError(`migration ${m.name} was changed after it was applied`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
           VALUES ($1, $2, now(), $3, 1)`,
          [randomUUID(), m.checksum, m.name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`migration ${m.name} failed: ${(error as Error).message}`);
      }
      applied.push(m.name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => {});
    await client.end();
  }
  return applied;
}
