// Creates the next migration from prisma/schema.prisma offline, with Prisma's
// WebAssembly schema engine. Each migration folder keeps the schema.prisma it was
// made from; the engine diffs the newest of those against the current schema
// (datamodel to datamodel, no database needed). Hand-written SQL for the read
// models goes in its own migration folders, which carry no schema snapshot.
//   npm run migrate:diff -- <name>     write a new migration if the schema changed
//   npm run migrate:diff -- --check    exit 1 when schema.prisma has unmigrated changes
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { MIGRATIONS_DIR } from '../src/db/migrate.ts';
import { loadSchemaEngine } from '../src/db/schema-engine.ts';

const args = process.argv.slice(2);
const check = args.includes('--check');
const name = args.find((a) => !a.startsWith('--'));
if (!check && !name) {
  console.error('usage: npm run migrate:diff -- <migration_name> | --check');
  process.exit(2);
}

const schemaPath = join(import.meta.dirname, '../prisma/schema.prisma');
const content = await readFile(schemaPath, 'utf8');
const folders = (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
  .filter((e) => e.isDirectory() && existsSync(join(MIGRATIONS_DIR, e.name, 'schema.prisma')))
  .map((e) => e.name)
  .sort();
const last = folders.at(-1);
const previous = last ? await readFile(join(MIGRATIONS_DIR, last, 'schema.prisma'), 'utf8') : undefined;

const { SchemaEngine } = await loadSchemaEngine();
// The engine connects even for a datamodel-only diff (it reads nothing there):
// DATABASE_URL when set, else a throwaway embedded PostgreSQL.
const embedded = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedPostgres({ dir: join(import.meta.dirname, '../.data/migrate-diff'), persistent: false });
const adapter = bindMigrationAwareSqlAdapterFactory(
  new PrismaPg({ connectionString: process.env.DATABASE_URL ?? embedded!.url }),
);
const engine = await SchemaEngine.new({ datamodels: [['schema.prisma', content]] }, () => {}, adapter);
const result = await engine.diff({
  from: previous ? { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: previous }] } : { tag: 'empty' },
  to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content }] },
  script: true,
  exitCode: null,
  shadowDatabaseUrl: null,
  filters: { externalTables: [], externalEnums: [] },
} as Parameters<typeof engine.diff>[0]);
await embedded?.stop();
const sql = (result.stdout ?? '').replace(/-- This is an empty migration\.\s*/, '').trim();

if (check) {
  if (sql) {
    console.error(`schema.prisma has changes no migration holds; run npm run migrate:diff -- <name>:\n${sql}`);
    process.exit(1);
  }
  console.log('prisma/migrations match schema.prisma');
} else if (!sql) {
  console.log('no changes');
} else {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dir = join(MIGRATIONS_DIR, `${stamp}_${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'migration.sql'), `${sql}\n`);
  await copyFile(schemaPath, join(dir, 'schema.prisma'));
  console.log(`wrote ${dir}/migration.sql`);
}
