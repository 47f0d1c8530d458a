// The no-skip audit (projections/audit.ts) and health in time (/ready's running check):
// a checkpoint moved past events the engine never saw is caught by the next audit, and
// a runner that stopped while events wait is not ready, while fresh events are not an alarm.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { comparePositions } from '../../src/outbox/position.ts';
import { headPosition } from '../../src/outbox/reader.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { readiness } from '../../src/server/http.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { Projections } from '../support/documents.ts';
import { caughtUp, until } from '../support/projections.ts';
import { scrapeMetrics } from '../support/prometheus.ts';
import { adminContext, type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;

const metrics = async () => await scrapeMetrics(t.app.metrics);

describe('the no-skip audit', () => {
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 3, 3);
    await t.startEngine({ auditMs: 200, pollMs: 100 });
  });
  afterAll(async () => t.close());

  it('accounts for every event, and catches a checkpoint moved past unapplied events at its next run', async () => {
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 15 });
    await caughtUp(t.pools);
    const sql = pgSql(t.pool);
    const head = (await headPosition(sql))!;
    await until('every projection audited at the head', async () => {
      const rows = await t.readPool.query<{ tx_id: string; seq: string }>(
        'SELECT tx_id::text AS tx_id, seq::text AS seq FROM projection_audits',
      );
      return (
        rows.rows.length === PROJECTION_NAMES.length &&
        rows.rows.every((r) => comparePositions({ txId: BigInt(r.tx_id), seq: BigInt(r.seq) }, head) >= 0)
      );
    });
    const clean = await metrics();
    for (const name of PROJECTION_NAMES) {
      expect(clean.value('parallax_projection_unaccounted_events', { projection: name }), name).toBe(0);
    }
    expect((await readiness(t.pools)).checks.audit).toEqual({ ok: true, detail: [] });
    const status = (await t.gql(Projections)).data!.projections;
    expect(status.map((p) => p.unaccountedEvents)).toEqual(PROJECTION_NAMES.map(() => 0));
    const outbox = Number((await t.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox')).rows[0]!.n);
    expect(status.map((p) => p.eventsApplied)).toEqual(PROJECTION_NAMES.map(() => outbox));

    // An injected skip: three events committed together with order_list_view's checkpoint
    // moved past them, as a hand-edited checkpoint (or a reader that skipped them) would.
    // With a separate read database: the checkpoint row is locked first, so no batch can
    // apply the events between their commit (write database) and the checkpoint's move.
    const client = await t.readPool.connect();
    const writer = t.readPool === t.pool ? client : await t.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM projection_checkpoints WHERE name = 'order_list_view' FOR UPDATE`);
      const { rows } = await writer.query<{ tx_id: string; seq: string }>(
        `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
         SELECT gen_random_uuid(), 'ProductCreated', 'Product', id, 1, 1,
                jsonb_build_object('productId', id::text, 'sku', 'SKIP-' || n, 'name', 'Skipped ' || n, 'priceCents', 100), 'test'
           FROM generate_series(1, 3) AS n, LATERAL (SELECT gen_random_uuid() AS id) AS g
         RETURNING tx_id::text AS tx_id, seq::text AS seq`,
      );
      const last = rows.at(-1)!;
      await client.query(
        `UPDATE projection_checkpoints SET tx_id = $1::xid8, seq = $2::bigint WHERE name = 'order_list_view'`,
        [last.tx_id, last.seq],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
      if (writer !== client) writer.release();
    }

    const caught = await until('the audit to catch the skip', async () => {
      const m = await metrics();
      return m.value('parallax_projection_unaccounted_events', { projection: 'order_list_view' }) === 3 && m;
    });
    for (const name of PROJECTION_NAMES.filter((n) => n !== 'order_list_view')) {
      expect(caught.value('parallax_projection_unaccounted_events', { projection: name }), name).toBe(0);
    }
    const ready = await readiness(t.pools);
    expect(ready.ready).toBe(false);
    expect(ready.checks.audit).toMatchObject({
      ok: false,
      code: 'EVENTS_UNACCOUNTED',
      detail: [{ name: 'order_list_view', unaccounted: 3 }],
    });
    expect(
      t.logs.some(
        (l) =>
          l.level === 50 &&
          l.projection === 'order_list_view' &&
          String(l.msg).startsWith('no-skip audit: 3 events at or below the checkpoint are not accounted for'),
      ),
    ).toBe(true);
    const list = (await t.gql(Projections)).data!.projections.find((p) => p.name === 'order_list_view')!;
    expect(list.unaccountedEvents).toBe(3);
  });
});

describe('health in time', () => {
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
    await t.startEngine({ pollMs: 100 });
  });
  afterAll(async () => t.close());

  it('/ready fails on a runner that stopped while events wait, and not on events that just arrived', async () => {
    await runWorkload(t.app, catalogue, { writers: 1, commandsPerWriter: 5 });
    await caughtUp(t.pools);
    const options = { maxIdleMs: 300, maxLagMs: 600_000 };
    expect((await readiness(t.pools, options)).ready).toBe(true);
    await sleep(400);

    await t.app.engine!.stop();
    await createOrder(adminContext(t.app), {
      customerId: catalogue.customerIds[1]!,
      items: [{ productId: catalogue.productIds[1]!, quantity: 1 }],
    });
    // Waiting since just now, not since the last batch (which is older than maxIdleMs).
    const fresh = await readiness(t.pools, options);
    expect(fresh.checks.running).toMatchObject({ ok: true });

    await sleep(400);
    const stopped = await readiness(t.pools, options);
    expect(stopped.ready).toBe(false);
    expect(stopped.checks.lag?.ok).toBe(true);
    expect(stopped.checks.running).toMatchObject({
      ok: false,
      code: 'PROJECTION_NOT_RUNNING',
      detail: { maxIdleMs: 300, idle: PROJECTION_NAMES.map((name) => expect.objectContaining({ name })) },
    });
    const m = await metrics();
    for (const name of PROJECTION_NAMES) {
      expect(m.value('parallax_projection_idle_seconds', { projection: name }), name).toBeGreaterThan(0.3);
    }
  });
});
