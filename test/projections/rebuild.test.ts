import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, type RebuildProgressMessage } from '../../src/bus/bus.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { orderSearchProjection } from '../../src/readModels/orderSearch/projection.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { spawnProjector, waitForOutput } from '../support/processes.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

const Rebuild = graphql(`
  mutation Rebuild($name: ProjectionName!) {
    rebuildProjection(input: { name: $name }) {
      __typename
      ... on ProjectionStatus { name state rebuild { processed total reason } }
      ... on Error { message }
    }
  }
`);

const Verify = graphql(`
  query Verify($name: ProjectionName!) {
    verifyProjection(name: $name) { projection rowsChecked differences { table key kind fields { field expected actual } } }
  }
`);

const Reader = graphql(`
  query Reader { orders(first: 50) { totalCount nodes { id } } }
`);

const Status = graphql(`
  query RebuildStatus { projections { name state version rebuild { processed total etaMs } } }
`);

async function rebuildDone(t: TestApp, name: string) {
  await until(
    `${name} rebuild to be swapped in`,
    async () => (await t.readPool.query('SELECT 1 FROM projection_rebuilds WHERE name = $1', [name])).rowCount === 0,
    240_000,
  );
}

describe('rebuildProjection under continuous writes', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 6, 6);
    await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 60 });
    await t.startEngine({ batchSize: 50 });
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('keeps serving full pages while the shadow is built and swapped in, then verifies clean', async () => {
    const progress: RebuildProgressMessage[] = [];
    const unsubscribe = await t.app.bus.subscribe(CHANNELS.rebuildProgress, (m) =>
      progress.push(m as RebuildProgressMessage),
    );
    let running = true;
    const writer = runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 100_000, stop: () => !running });
    const reads = { count: 0, errors: [] as unknown[], empty: 0, drops: 0, rebuildingSeen: false };
    const reader = (async () => {
      let last = 0;
      while (running) {
        const res = await t.gql(Reader);
        reads.count += 1;
        if (res.errors) reads.errors.push(res.errors);
        const page = res.data?.orders;
        if (!page?.nodes.length) reads.empty += 1;
        if ((page?.totalCount ?? 0) < last) reads.drops += 1;
        last = Math.max(last, page?.totalCount ?? 0);
      }
    })();
    try {
      const started = await t.gql(Rebuild, { name: 'order_list_view' });
      expect(started.data?.rebuildProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'REBUILDING' });
      const status = await t.gql(Status);
      const listView = status.data!.projections.find((p) => p.name === 'order_list_view')!;
      reads.rebuildingSeen = listView.state === 'REBUILDING' || progress.length > 0;
      await rebuildDone(t, 'order_list_view');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      // Also when the test fails: the loops must not outlive it.
      running = false;
      await Promise.all([writer, reader]);
      unsubscribe();
    }

    expect(reads.count).toBeGreaterThan(5);
    expect(reads.errors).toEqual([]);
    expect(reads.empty).toBe(0);
    expect(reads.drops).toBe(0);
    expect(reads.rebuildingSeen).toBe(true);
    expect(progress.at(-1)).toMatchObject({ projection: 'order_list_view', done: true });
    expect(progress.some((p) => !p.done && p.processed > 0 && p.total > 0)).toBe(true);

    await caughtUp(t.pools);
    const verified = await t.gql(Verify, { name: 'order_list_view' });
    expect(verified.data?.verifyProjection.differences).toEqual([]);
    expect(verified.data?.verifyProjection.rowsChecked).toBeGreaterThan(100);
    const { rows } = await t.readPool.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild_%' OR nspname LIKE 'retired_%'",
    );
    expect(rows).toEqual([]);
    // The shadow chases two unthrottled writers on two cores: 13–22 s with one database,
    // 67–88 s with a separate one (two clusters share the cores), more on a loaded machine.
  }, 300_000);

  it('names the row and field that was changed behind the engine', async () => {
    const { rows } = await t.readPool.query<{ order_id: string }>('SELECT order_id::text FROM order_list_view LIMIT 1');
    const orderId = rows[0]!.order_id;
    await t.readPool.query('UPDATE order_list_view SET total_cents = total_cents + 1 WHERE order_id = $1', [orderId]);
    const res = await t.gql(Verify, { name: 'order_list_view' });
    const differences = res.data!.verifyProjection.differences;
    expect(differences).toHaveLength(1);
    expect(JSON.parse(differences[0]!.key)).toEqual({ order_id: orderId });
    expect(differences[0]).toMatchObject({
      table: 'order_list_view',
      kind: 'DIFFERENT',
      fields: [{ field: 'total_cents' }],
    });
    // A rebuild repairs it.
    await t.gql(Rebuild, { name: 'order_list_view' });
    await rebuildDone(t, 'order_list_view');
    expect((await t.gql(Verify, { name: 'order_list_view' })).data!.verifyProjection.differences).toEqual([]);
  });
});

/** Every index and constraint of a projection's tables, as PostgreSQL would recreate them. */
async function tableShapes(t: TestApp, tables: string[]) {
  const indexes = await t.readPool.query<{ tablename: string; indexname: string; indexdef: string }>(
    `SELECT tablename, indexname, indexdef FROM pg_indexes
      WHERE schemaname = 'public' AND tablename = ANY($1::text[]) ORDER BY tablename, indexname`,
    [tables],
  );
  const constraints = await t.readPool.query<{ table: string; conname: string; def: string }>(
    `SELECT conrelid::regclass::text AS table, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = ANY(SELECT ('public.' || t)::regclass FROM unnest($1::text[]) AS t) ORDER BY 1, 2`,
    [tables],
  );
  return { indexes: indexes.rows, constraints: constraints.rows };
}

describe('a bulk rebuild (secondary indexes built after the load)', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 6, 6);
    await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 40 });
    await t.startEngine({ batchSize: 50 });
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('swaps in tables with the same indexes and constraints as the live ones, and verifies clean', async () => {
    const search = ALL_PROJECTIONS.find((p) => p.name === 'order_search')!;
    const before = await tableShapes(t, search.tables);
    expect(before.indexes.some((i) => /USING gin/.test(i.indexdef))).toBe(true);
    let running = true;
    const writer = runWorkload(t.app, catalogue, { writers: 1, commandsPerWriter: 100_000, stop: () => !running });
    await t.gql(Rebuild, { name: 'order_search' });
    await rebuildDone(t, 'order_search');
    running = false;
    await writer;
    // The shadow loaded without its secondary indexes and built them once caught up.
    const built = t.logs.find((l) => l.msg === 'rebuild indexes built' && l.projection === 'order_search');
    expect(Number(built?.indexes)).toBeGreaterThan(0);
    expect(await tableShapes(t, search.tables)).toEqual(before);
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools, ['order_search']);
  });
});

describe('a projection version bump', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const catalogue = await givenCatalogue(t.app, 4, 4);
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 60 });
    await t.startEngine();
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('rebuilds the read model in a shadow on restart, while the old version keeps serving', async () => {
    const before = Number((await t.readPool.query('SELECT count(*) FROM order_search')).rows[0].count);
    await t.app.engine!.stop();
    // Version 2, and slow, so the old version visibly serves while the shadow is built.
    let batches = 0;
    const v2 = {
      ...orderSearchProjection,
      version: 2,
      apply: async (sql: Parameters<typeof orderSearchProjection.apply>[0], events: StoredEvent[]) => {
        batches += 1;
        await new Promise((r) => setTimeout(r, 30));
        return orderSearchProjection.apply(sql, events);
      },
    };
    const projections = ALL_PROJECTIONS.map((p) => (p.name === 'order_search' ? v2 : p));
    await t.startEngine({ projections, batchSize: 20 });
    await until('the shadow to start', async () => batches > 0);
    const during = await t.gql(Status);
    expect(during.data!.projections.find((p) => p.name === 'order_search')).toMatchObject({
      state: 'REBUILDING',
      version: 1,
    });
    // The live (version 1) tables answer in full meanwhile.
    expect(Number((await t.readPool.query('SELECT count(*) FROM order_search')).rows[0].count)).toBe(before);
    await rebuildDone(t, 'order_search');
    const after = await t.gql(Status);
    expect(after.data!.projections.find((p) => p.name === 'order_search')).toMatchObject({ state: 'LIVE', version: 2 });
    await caughtUp(t.pools);
    expect((await t.gql(Verify, { name: 'order_search' })).data!.verifyProjection.differences).toEqual([]);
  });
});

describe('a projector killed in the middle of a rebuild', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const catalogue = await givenCatalogue(t.app, 4, 4);
    await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 150 });
  });
  afterAll(async () => t.close());

  it('resumes the rebuild after a restart while the live version keeps serving', async () => {
    // Small batches that do not grow: the shadow must still be part-way when the projector is killed.
    const env = {
      PROJECTION_LEASE_MS: '1000',
      PROJECTION_BATCH_SIZE: '10',
      PROJECTION_MAX_BATCH_SIZE: '10',
      LOG_LEVEL: 'info',
    };
    const first = spawnProjector(t.databaseEnv, env);
    await waitForOutput(first, 'projection engine started');
    await caughtUp(t.pools);
    await t.gql(Rebuild, { name: 'customer_order_history' });
    await until('the shadow to be part-way', async () => {
      const { rows } = await t.readPool.query<{ n: number }>(
        "SELECT events_applied::int AS n FROM projection_checkpoints WHERE name = 'customer_order_history#rebuild'",
      );
      return (rows[0]?.n ?? 0) > 20;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const total = Number((await t.pool.query('SELECT count(*) FROM orders')).rows[0].count);
    expect(Number((await t.readPool.query('SELECT count(*) FROM customer_order_history')).rows[0].count)).toBe(total);
    const second = spawnProjector(t.databaseEnv, env);
    try {
      await rebuildDone(t, 'customer_order_history');
      await caughtUp(t.pools);
      expect((await t.gql(Verify, { name: 'customer_order_history' })).data!.verifyProjection.differences).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('npm run cli -- projections', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const catalogue = await givenCatalogue(t.app, 2, 2);
    await runWorkload(t.app, catalogue, { writers: 1, commandsPerWriter: 20 });
    await t.startEngine();
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  // Asynchronous: the engine building the rebuild runs in this very process.
  function cli(...args: string[]): Promise<{ status: number; stdout: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/cli.ts', ...args],
        {
          cwd: join(import.meta.dirname, '../..'),
          env: { ...process.env, ...t.databaseEnv },
          timeout: 60_000,
        },
        (error, stdout) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout }),
      );
    });
  }

  it('verify exits 0 on a clean read model and 1, naming the row, on a tampered one', async () => {
    const clean = await cli('projections', 'verify', 'order_analytics');
    expect(clean.stdout).toMatch(/order_analytics: \d+ rows checked, 0 differences/);
    expect(clean.status).toBe(0);
    await t.readPool.query("UPDATE order_analytics SET order_count = order_count + 5 WHERE status = 'PENDING'");
    const tampered = await cli('projections', 'verify', 'order_analytics');
    expect(tampered.status).toBe(1);
    expect(tampered.stdout).toContain('DIFFERENT order_analytics');
    expect(tampered.stdout).toContain('order_count');
  });

  it('rebuild starts a rebuild and follows it until it is swapped in', async () => {
    const result = await cli('projections', 'rebuild', 'order_analytics');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('order_analytics rebuilt and swapped in');
    expect((await cli('projections', 'verify', 'order_analytics')).status).toBe(0);
  });
});
