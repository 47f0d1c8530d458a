// A read-model version that changes its table's shape: order_list_view version 2 adds
// `currency` (exposed as OrderView.currency). A database that holds version 1 rebuilds
// into a shadow created from the version 2 definition while the live version 1 tables
// keep serving and keep being written in their own shape; the new column is served
// only after the swap, and the old shape is dropped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/projections/batch.ts';
import type { Projection } from '../../src/projections/projection.ts';
import { orderListViewProjection } from '../../src/readModels/orderListView/projection.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

const MIGRATION = readFileSync(
  join(import.meta.dirname, '../../prisma/migrations/20261202000000_order_list_view_currency/migration.sql'),
  'utf8',
);

const ShapeReader = graphql(`
  query ShapeReader { orders(first: 50) { totalCount nodes { id currency } } }
`);

const ShapeVerify = graphql(`
  query ShapeVerify { verifyProjection(name: order_list_view) { rowsChecked differences { table key kind } } }
`);

async function shape(t: TestApp) {
  const { rows: columns } = await t.readPool.query<{ nullable: string }>(
    `SELECT is_nullable AS nullable FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'order_list_view' AND column_name = 'currency'`,
  );
  const { rows: versions } = await t.readPool.query<{ version: number }>(
    "SELECT version FROM projection_versions WHERE name = 'order_list_view'",
  );
  return {
    currency: columns[0] ? (columns[0].nullable === 'NO' ? 'NOT NULL' : 'NULL') : 'absent',
    version: versions[0]?.version,
  };
}

/**
 * Rows written and projected (`writers` × `commands`), then the database as version 1
 * of order_list_view would have left it; the engine is stopped.
 */
async function givenVersion1Rows(t: TestApp, catalogue: Catalogue, writers: number, commands: number) {
  await runWorkload(t.app, catalogue, { writers, commandsPerWriter: commands });
  await t.startEngine();
  await caughtUp(t.pools);
  await t.app.engine!.stop();
  t.app.engine = undefined;
  await asVersion1(t);
}

/** The database as version 1 of order_list_view left it: the same rows, without the column version 2 brought. */
async function asVersion1(t: TestApp) {
  await t.readPool.query('ALTER TABLE order_list_view DROP COLUMN currency');
  await t.readPool.query("UPDATE projection_versions SET version = 1 WHERE name = 'order_list_view'");
}

describe('the migration for order_list_view version 2', () => {
  it('gives a new database the version 2 shape directly', async () => {
    const t = await createTestApp();
    try {
      expect(await shape(t)).toEqual({ currency: 'NOT NULL', version: 2 });
    } finally {
      await t.close();
    }
  });

  it('leaves a version 1 read model that holds rows as it is (it is rebuilt), and upgrades an empty one', async () => {
    const t = await createTestApp();
    try {
      await givenVersion1Rows(t, await givenCatalogue(t.app, 2, 2), 1, 10);
      await t.readPool.query(MIGRATION);
      expect(await shape(t)).toEqual({ currency: 'absent', version: 1 });
    } finally {
      await t.close();
    }
    const empty = await createTestApp();
    try {
      await asVersion1(empty);
      await empty.readPool.query(MIGRATION);
      expect(await shape(empty)).toEqual({ currency: 'NOT NULL', version: 2 });
    } finally {
      await empty.close();
    }
  });
});

describe('a rebuild an operator requests while version 1 is live', () => {
  it("builds the code's version 2, from its definition, and records it at the swap", async () => {
    const t = await createTestApp();
    try {
      await givenVersion1Rows(t, await givenCatalogue(t.app, 2, 2), 1, 20);
      const { json } = await t.request(
        { query: 'mutation { rebuildProjection(input: { name: order_list_view }) { __typename } }' },
        { authorization: `Bearer ${t.adminToken}` },
      );
      expect(json.errors).toBeUndefined();
      expect(
        (await t.readPool.query("SELECT version FROM projection_rebuilds WHERE name = 'order_list_view'")).rows,
      ).toEqual([{ version: 2 }]);
      await t.startEngine();
      await until(
        'the rebuild to be swapped in',
        async () =>
          (await t.readPool.query("SELECT 1 FROM projection_rebuilds WHERE name = 'order_list_view'")).rowCount === 0,
        60_000,
      );
      await caughtUp(t.pools);
      expect(await shape(t)).toEqual({ currency: 'NOT NULL', version: 2 });
      await expectReadModelsMatchWriteTables(t.pools, ['order_list_view']);
    } finally {
      await t.close();
    }
  });
});

/**
 * order_list_view whose shadow takes its first 40 batches slowly, so the rebuild lasts
 * while the live tables take writes (then at full speed, so it catches up with the writers).
 */
function withSlowShadow(): Projection[] {
  let slowBatches = 40;
  const slow: Projection = {
    ...orderListViewProjection,
    async apply(sql, events) {
      const [row] = await sql.query<{ schema: string }>('SELECT (current_schemas(false))[1] AS schema');
      if (row?.schema.startsWith('rebuild_') && slowBatches-- > 0) await new Promise((r) => setTimeout(r, 40));
      return orderListViewProjection.apply(sql, events);
    },
  };
  return ALL_PROJECTIONS.map((p) => (p.name === slow.name ? slow : p));
}

describe.each([
  ['ASYNC', {}],
  ['INLINE', { PROJECTION_MODES: 'order_list_view=INLINE' }],
])('a shape-changing rebuild under writes and reads (order_list_view %s)', (_mode, env) => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    // INLINE writes the read model in the command's transaction: one database, whatever the run's layout.
    t = await createTestApp({ env, ...(_mode === 'INLINE' ? { readDatabaseUrl: null } : {}) });
    catalogue = await givenCatalogue(t.app, 6, 6);
    await givenVersion1Rows(t, catalogue, 4, 60);
  });
  afterAll(async () => t.close());

  it('keeps serving full pages in the old shape, serves the new column only after the swap, and verifies clean', async () => {
    // Before: version 1 live, the new field answers null, with no error.
    const before = await t.gql(ShapeReader);
    expect(before.errors).toBeUndefined();
    expect(before.data!.orders.nodes.length).toBeGreaterThan(0);
    expect(new Set(before.data!.orders.nodes.map((n) => n.currency))).toEqual(new Set([null]));

    let running = true;
    const writer = runWorkload(t.app, catalogue, { writers: 1, commandsPerWriter: 100_000, stop: () => !running });
    // Each answer: its currencies (all null before the swap, all EUR after), in order.
    const reads = { answers: [] as string[], errors: [] as unknown[], empty: 0 };
    const reader = (async () => {
      while (running) {
        const res = await t.gql(ShapeReader);
        if (res.errors) reads.errors.push(res.errors);
        const nodes = res.data?.orders.nodes ?? [];
        if (!nodes.length) reads.empty += 1;
        reads.answers.push([...new Set(nodes.map((n) => String(n.currency)))].join(','));
      }
    })();
    // The code's version 2 meets version 1 live: the engine starts the rebuild itself.
    await t.startEngine({ projections: withSlowShadow(), batchSize: 10 });
    expect(
      (await t.readPool.query("SELECT version FROM projection_rebuilds WHERE name = 'order_list_view'")).rows,
    ).toEqual([{ version: 2 }]);
    // While the shadow is built, the live version 1 tables take new orders in their own shape.
    const rowsAtStart = Number((await t.readPool.query('SELECT count(*) FROM order_list_view')).rows[0].count);
    await until('the live version 1 tables to take new rows during the rebuild', async () => {
      const { rows } = await t.readPool.query<{ n: number; rebuilding: boolean; version: number }>(
        `SELECT (SELECT count(*)::int FROM order_list_view) AS n,
                EXISTS (SELECT 1 FROM projection_rebuilds WHERE name = 'order_list_view') AS rebuilding,
                (SELECT version FROM projection_versions WHERE name = 'order_list_view') AS version`,
      );
      const r = rows[0]!;
      expect(r.rebuilding && r.version === 1).toBe(true);
      return r.n > rowsAtStart;
    });
    await until(
      'the version 2 shadow to be swapped in',
      async () =>
        (await t.readPool.query("SELECT 1 FROM projection_rebuilds WHERE name = 'order_list_view'")).rowCount === 0,
      120_000,
    );
    // Reads after the swap (the read side learns the new version within a second).
    await new Promise((r) => setTimeout(r, 1_500));
    running = false;
    await Promise.all([writer, reader]);

    expect(reads.errors).toEqual([]);
    expect(reads.empty).toBe(0);
    expect(reads.answers.length).toBeGreaterThan(5);
    // Every answer is wholly old or wholly new, the old ones all before the new ones.
    expect(new Set(reads.answers)).toEqual(new Set(['null', 'EUR']));
    const firstNew = reads.answers.indexOf('EUR');
    expect(reads.answers.slice(firstNew)).toEqual(reads.answers.slice(firstNew).map(() => 'EUR'));

    expect(await shape(t)).toEqual({ currency: 'NOT NULL', version: 2 });
    const { rows: schemas } = await t.readPool.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild_%' OR nspname LIKE 'retired_%'",
    );
    expect(schemas).toEqual([]);
    await caughtUp(t.pools);
    // Verification now compares the currency too (version 2's check).
    const verified = await t.gql(ShapeVerify);
    expect(verified.data!.verifyProjection.differences).toEqual([]);
    const orders = Number((await t.pool.query('SELECT count(*) FROM orders')).rows[0].count);
    expect(verified.data!.verifyProjection.rowsChecked).toBeGreaterThanOrEqual(2 * orders);
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('leaves a read model at a newer version than the code to processes that run it', async () => {
    await t.app.engine!.stop();
    t.app.engine = undefined;
    const client = await t.readPool.connect();
    try {
      const result = await runBatch(
        client,
        {
          projection: { ...orderListViewProjection, version: 1 },
          checkpointName: 'order_list_view',
          mode: 'live',
          limit: 10,
          log: pino({ level: 'silent' }),
          startSpan: () => trace.getTracer('test').startSpan('batch'),
          ...(t.outboxPool ? { outboxPool: t.outboxPool } : {}),
        },
        {},
      );
      expect(result).toEqual({ kind: 'outdated', version: 2 });
    } finally {
      client.release();
    }
  });
});
