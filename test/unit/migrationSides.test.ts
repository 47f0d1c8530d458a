// Every migration folder belongs to one side (write or read): with READ_DATABASE_URL each
// database gets only its side's. A folder nobody classified must stop the migration, not
// land in the wrong database (or in none).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATION_SIDES, MigrationError, readMigrations } from '../../src/db/migrate.ts';

describe('migration sides', () => {
  it('lists every migration folder, and only those', async () => {
    const migrations = await readMigrations();
    expect(migrations.map((m) => m.name)).toEqual(Object.keys(MIGRATION_SIDES).sort());
    expect(new Set(migrations.map((m) => m.side))).toEqual(new Set(['write', 'read']));
  });

  it('refuses a folder that is not listed, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parallax-migrations-'));
    try {
      for (const name of ['20261126000000_write_model', '20991231000000_unlisted']) {
        await mkdir(join(dir, name));
        await writeFile(join(dir, name, 'migration.sql'), 'SELECT 1;');
      }
      await expect(readMigrations(dir)).rejects.toThrow(MigrationError);
      await expect(readMigrations(dir)).rejects.toThrow(/20991231000000_unlisted have no side/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
