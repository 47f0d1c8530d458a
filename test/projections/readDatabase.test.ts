// The read models in a PostgreSQL of their own (READ_DATABASE_URL): each side's
// migrations go to its database, and restarting the read database while commands flow
// costs the commands nothing and loses no event: the projector catches up, applying
// every event exactly once.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { MIGRATION_SIDES, migrate, migrateDatabases } from '../../src/db/migrate.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { spawnParallax } from '../support/processes.ts';
import { caughtUp, expectReadModelsMatchWriteTables } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

async function tableExists(pool: pg.Pool, name: string): Promise<boolean> {
  const { rows } = await pool.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [name]);
  return rows[0]!.found;
}

describe('migrations with a separate read database', () => {
  const names = [`px_w_${randomBytes(4).toString('hex')}`, `px_r_${randomBytes(4).toString('hex')}`];
  const urls = names.map((name) => {
    const url = new URL(inject('databaseServerUrl'));
    url.pathname = `/${name}`;
    return url.toString();
  });
  let write: pg.Pool;
  let read: pg.Pool;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: inject('databaseServerUrl') });
    await admin.connect();
    for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    [write, read] = urls.map((url) => new pg.Pool({ connectionString: url, max: 2 })) as [pg.Pool, pg.Pool];
  });
  afterAll(async () => {
    await write?.end();
    await read?.end();
    const admin = new pg.Client({ connectionString: inject('databaseServerUrl') });
    await admin.connect();
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('gives each database its own side, once, and /ready checks each side in its own database', async () => {
    const applied = await migrateDatabases(urls[0]!, urls[1]!);
    const sides = Object.entries(MIGRATION_SIDES);
    expect(applied.write).toEqual(sides.filter(([, side]) => side === 'write').map(([name]) => name));
    expect(applied.read).toEqual(sides.filter(([, side]) => side === 'read').map(([name]) => name));
    expect(applied.read.length).toBeGreaterThan(0);
    expect(await migrateDatabases(urls[0]!, urls[1]!)).toEqual({ write: [], read: [] });

    for (const table of ['outbox', 'orders', 'customers', 'idempotency_records', 'relay_checkpoints']) {
      expect(await tableExists(write, table), table).toBe(true);
      expect(await tableExists(read, table), table).toBe(false);
    }
    for (const table of ['order_list_view', 'order_search', 'projection_checkpoints', 'parked_events']) {
      expect(await tableExists(read, table), table).toBe(true);
      expect(await tableExists(write, table), table).toBe(false);
    }

    const pools = { write, read };
    expect((await readiness(pools)).checks.migrations).toEqual({ ok: true });
    // A read-side migration missing from the read database is named, though the write database never had it.
    const missing = applied.read.at(-1)!;
    await read.query('DELETE FROM "_prisma_migrations" WHERE migration_name = $1', [missing]);
    expect((await readiness(pools)).checks.migrations).toEqual({
      ok: false,
      code: 'MIGRATIONS_MISSING',
      detail: { missing: [missing] },
    });
  });
});

describe('restarting the read database while commands flow', () => {
  let dir: string;
  let readDb: EmbeddedDatabase | undefined;
  let t: TestApp;
  let catalogue: Catalogue;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parallax-read-db-'));
    readDb = await startEmbeddedPostgres({ dir, persistent: true, database: 'parallax_read' });
    await migrate(readDb.url, ['read']);
    t = await createTestApp({ readDatabaseUrl: readDb.url, poolSize: 12 });
    catalogue = await givenCatalogue(t.app, 6, 6);
    await t.startEngine({ pollMs: 100 });
    await caughtUp(t.pools);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await readDb?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('costs the commands nothing, answers queries UNAVAILABLE meanwhile, and the projector catches up exactly once', async () => {
    let writing = true;
    const result = { acknowledged: 0, rejected: 0 };
    const writers = runWorkload(t.app, catalogue, {
      writers: 4,
      commandsPerWriter: 100_000,
      stop: () => !writing,
    }).then((r) => Object.assign(result, r));
    // runWorkload counts at its end: follow the outbox to see commands commit meanwhile.
    const outboxCount = async () =>
      Number((await t.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox')).rows[0]!.n);

    await new Promise((r) => setTimeout(r, 500));
    await readDb!.stop();
    readDb = undefined;
    const atStop = await outboxCount();
    await new Promise((r) => setTimeout(r, 1_000));
    const query = await t.request(
      { query: '{ orders(first: 5) { totalCount } }' },
      { authorization: `Bearer ${t.adminToken}` },
    );
    expect(query.json.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 1_000));
    const beforeRestart = await outboxCount();
    readDb = await startEmbeddedPostgres({ dir, persistent: true, database: 'parallax_read' });
    await new Promise((r) => setTimeout(r, 500));
    writing = false;
    await writers;

    // Commands went on while the read database was down, and none failed for it.
    expect(beforeRestart - atStop).toBeGreaterThan(20);
    expect(result.acknowledged).toBeGreaterThan(0);
    // The engine felt the outage (its batches or its LISTEN connection failed) and recovered.
    expect(
      t.logs.some((l) =>
        ['projection batch failed; retrying', 'LISTEN connection lost; polling until it is back'].includes(
          String(l.msg),
        ),
      ),
    ).toBe(true);

    await caughtUp(t.pools, PROJECTION_NAMES, 90_000);
    await expectReadModelsMatchWriteTables(t.pools);
    const outbox = String(await outboxCount());
    const { rows } = await t.readPool.query<{ name: string; events_applied: string }>(
      'SELECT name, events_applied::text FROM projection_checkpoints ORDER BY name',
    );
    expect(rows.map((r) => r.name)).toEqual([...PROJECTION_NAMES].sort());
    for (const row of rows) expect(row.events_applied, row.name).toBe(outbox);
    const after = await t.request(
      { query: '{ orders(first: 5) { totalCount } }' },
      { authorization: `Bearer ${t.adminToken}` },
    );
    expect(after.json.errors).toBeUndefined();
  }, 180_000);

  it('is refused at start-up with an INLINE projection, naming it, before anything is touched', async () => {
    const proc = spawnParallax({
      ...t.databaseEnv,
      PROJECTION_MODES: 'order_list_view=INLINE,order_search=ASYNC',
    });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output.join('')).toContain(
      "configuration error: PROJECTION_MODES makes order_list_view INLINE, which writes the read model in the command's transaction",
    );
  });
});
