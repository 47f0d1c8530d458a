// replay: how fast each projection rebuilds from position zero over a large outbox
// (200,000 events; --smoke: 4,000), next to the sustained command rate measured by
// the catch-up benchmark. The outbox is generated in bulk with SQL (same event shapes
// and mix as the commands produce: orders with 1-3 lines, items added, status changes,
// renames), because producing 200,000 events through commands would take longer than
// the rest of the suite.
import { loadavg } from 'node:os';
import pg from 'pg';
import { startRebuild } from '../src/projections/rebuild.ts';
import { ALL_PROJECTIONS } from '../src/readModels/registry.ts';
import { createEngine } from '../src/runtime.ts';
import { readModelDigests } from '../test/support/digest.ts';
import { givenCatalogue, runWorkload } from '../test/support/workload.ts';
import { type Benchmark, benchApp, closeApp, freshDatabase } from './support.ts';

async function generate(url: string, events: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const customers = 1000;
  const renames = Math.min(customers, Math.floor(events * 0.02));
  const items = Math.floor(events * 0.15);
  const statuses = Math.floor(events * 0.2);
  const orders = events - customers - renames - items - statuses;
  await client.query('BEGIN');
  await client.query(
    `CREATE TEMP TABLE c AS SELECT i, gen_random_uuid() AS id FROM generate_series(1, ${customers}) i`,
  );
  await client.query(
    `CREATE TEMP TABLE o AS SELECT i, gen_random_uuid() AS id, 1 + i % ${customers} AS c FROM generate_series(1, ${orders}) i`,
  );
  await client.query(`
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at)
    SELECT gen_random_uuid(), 'CustomerCreated', 'Customer', c.id, 1,
           jsonb_build_object('customerId', c.id, 'name', 'Customer ' || c.i, 'email', 'c' || c.i || '@example.com'), now()
      FROM c ORDER BY c.i`);
  const line = (n: string) =>
    `jsonb_build_object('lineNo', ${n}, 'productId', '00000000-0000-0000-0000-00000000000' || (${n} % 9), 'sku', 'SKU-' || (o.i % 50),
      'productName', 'Product ' || (o.i % 50), 'quantity', 1 + o.i % 4, 'unitPriceCents', 100 + o.i % 900)`;
  await client.query(`
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at)
    SELECT gen_random_uuid(), 'OrderCreated', 'Order', o.id, 1,
           jsonb_build_object('orderId', o.id, 'customerId', c.id, 'totalCents', 1000 + o.i % 5000,
             'createdAt', to_char(now() - (o.i % 30) * interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'items', CASE WHEN o.i % 3 = 0 THEN jsonb_build_array(${line('1')}, ${line('2')}) ELSE jsonb_build_array(${line('1')}) END),
           now()
      FROM o JOIN c ON c.i = o.c ORDER BY o.i`);
  await client.query(`
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at)
    SELECT gen_random_uuid(), 'OrderItemAdded', 'Order', o.id, 2,
           jsonb_build_object('orderId', o.id, 'totalCents', 5000 + o.i % 5000, 'item', ${line('3')}), now()
      FROM o WHERE o.i <= ${items} ORDER BY o.i`);
  await client.query(`
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at)
    SELECT gen_random_uuid(), 'OrderStatusChanged', 'Order', o.id, CASE WHEN o.i <= ${items} THEN 3 ELSE 2 END,
           jsonb_build_object('orderId', o.id, 'from', 'PENDING', 'to', 'CONFIRMED'), now()
      FROM o WHERE o.i > ${orders} - ${statuses} OR o.i <= ${Math.max(0, statuses - (orders - statuses))} ORDER BY o.i LIMIT ${statuses}`);
  await client.query(`
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at)
    SELECT gen_random_uuid(), 'CustomerRenamed', 'Customer', c.id, 2,
           jsonb_build_object('customerId', c.id, 'name', 'Renamed ' || c.i), now()
      FROM c ORDER BY c.i LIMIT ${Math.max(0, renames)}`);
  await client.query('COMMIT');
  const total = Number((await client.query('SELECT count(*) FROM outbox')).rows[0].count);
  await client.end();
  return total;
}

export const replayBenchmark: Benchmark = {
  name: 'replay',
  description:
    'rebuild speed (events/s) of each projection from position zero over a generated outbox, all four replaying at once, next to the sustained command rate',
  async run({ server, smoke }) {
    // The sustained command rate on this machine, in this run: 8 writers, mixed commands.
    const writeUrl = await freshDatabase(server);
    const writeApp = benchApp(writeUrl, {}, 16);
    const catalogue = await givenCatalogue(writeApp, 10, 20);
    await runWorkload(writeApp, catalogue, { writers: 8, commandsPerWriter: smoke ? 2 : 20 }); // warm-up
    const t0 = performance.now();
    const written = await runWorkload(writeApp, catalogue, { writers: 8, commandsPerWriter: smoke ? 10 : 200 });
    const sustained = Math.round((written.acknowledged + written.rejected) / ((performance.now() - t0) / 1000));
    await closeApp(writeApp);

    const url = await freshDatabase(server);
    const events = await generate(url, smoke ? 4_000 : 200_000);
    const app = benchApp(url, { PROJECTION_BATCH_SIZE: '1000' }, 12);
    app.engine = createEngine(app, url);
    const loadBefore = loadavg()[0]!;
    const started = performance.now();
    await app.engine.start();
    const perProjection: Record<string, { seconds: number; eventsPerSecond: number }> = {};
    while (Object.keys(perProjection).length < ALL_PROJECTIONS.length) {
      const { rows } = await app.pool.query<{ name: string; n: number }>(
        'SELECT name, events_applied::int AS n FROM projection_checkpoints',
      );
      for (const row of rows) {
        if (row.n >= events && !perProjection[row.name]) {
          const seconds = (performance.now() - started) / 1000;
          perProjection[row.name] = {
            seconds: Math.round(seconds * 10) / 10,
            eventsPerSecond: Math.round(events / seconds),
          };
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const allSeconds = (performance.now() - started) / 1000;

    // The same replay as rebuilds (shadow tables, secondary indexes built after the
    // load, then swapped in) of all four at once, on the database just caught up.
    // The generated outbox has no write tables to verify against: the rebuilt tables are
    // compared with the ones the live replay built instead, row for row (a digest each).
    const liveDigest = await readModelDigests(app.pool);
    const rebuildStarted = performance.now();
    for (const projection of ALL_PROJECTIONS) await startRebuild(app.pool, projection, 'benchmark');
    await app.engine.syncRebuilds();
    const rebuilt: Record<string, { seconds: number; eventsPerSecond: number }> = {};
    while (Object.keys(rebuilt).length < ALL_PROJECTIONS.length) {
      const { rows } = await app.pool.query<{ name: string }>('SELECT name FROM projection_rebuilds');
      for (const projection of ALL_PROJECTIONS) {
        if (!rows.some((r) => r.name === projection.name) && !rebuilt[projection.name]) {
          const seconds = (performance.now() - rebuildStarted) / 1000;
          rebuilt[projection.name] = {
            seconds: Math.round(seconds * 10) / 10,
            eventsPerSecond: Math.round(events / seconds),
          };
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const rebuiltDigest = await readModelDigests(app.pool);
    const differingTables = Object.keys(liveDigest).filter((table) => liveDigest[table] !== rebuiltDigest[table]);
    await closeApp(app);
    const slowest = Math.min(...Object.values(perProjection).map((p) => p.eventsPerSecond));
    return {
      events,
      batchSize: 1000,
      sustainedCommandsPerSecond: sustained,
      perProjection,
      // Rebuilds of all four at once from the same outbox, until swapped in.
      rebuild: {
        perProjection: rebuilt,
        slowestEventsPerSecond: Math.min(...Object.values(rebuilt).map((p) => p.eventsPerSecond)),
        tablesDifferingFromTheLiveReplay: differingTables,
      },
      // Events applied per second by the four projections together.
      allProjectionsEventsPerSecond: Math.round((events * ALL_PROJECTIONS.length) / allSeconds),
      slowestVsCommandRate: Math.round((slowest / sustained) * 10) / 10,
      // The machine's 1-minute load average when the replay started and ended: other
      // work on the same cores shows up here, and in both figures of the ratio.
      loadAverage: [Math.round(loadBefore * 10) / 10, Math.round(loadavg()[0]! * 10) / 10],
    };
  },
};
