// Schema evolution of events (src/events/upcasters.ts): an outbox written at version 1
// (money as cents, the previous release's shape) replays into the same read models as
// one written at version 2, the audit trail shows the current shape, and a stored
// version this code cannot read stops the process at start-up, naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { checkEventVersions } from '../../src/outbox/reader.ts';
import { startRebuild } from '../../src/projections/rebuild.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { readModelDigests } from '../support/digest.ts';
import { spawnParallax } from '../support/processes.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

const History = graphql(`
  query UpcastHistory($id: ID!) {
    orderHistory(id: $id) { type version payload }
  }
`);

let t: TestApp;
let catalogue: Catalogue;

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 4, 4);
  await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 40 });
  await t.startEngine({ pollMs: 100 });
  await caughtUp(t.pools);
});
afterAll(async () => t.close());

/** Rewrites the outbox's order events in their version-1 shape, as the previous release stored them. */
async function downgradeOutbox(): Promise<number> {
  const created = await t.pool.query(
    `UPDATE outbox SET schema_version = 1,
            payload = (payload - 'total') || jsonb_build_object(
              'totalCents', payload->'total'->'amountCents',
              'items', (SELECT jsonb_agg((i - 'unitPrice') || jsonb_build_object('unitPriceCents', i->'unitPrice'->'amountCents')
                                         ORDER BY n)
                          FROM jsonb_array_elements(payload->'items') WITH ORDINALITY AS x(i, n)))
      WHERE event_type = 'OrderCreated' AND schema_version = 2`,
  );
  const added = await t.pool.query(
    `UPDATE outbox SET schema_version = 1,
            payload = (payload - 'total') || jsonb_build_object(
              'totalCents', payload->'total'->'amountCents',
              'item', ((payload->'item') - 'unitPrice') || jsonb_build_object('unitPriceCents', payload->'item'->'unitPrice'->'amountCents'))
      WHERE event_type = 'OrderItemAdded' AND schema_version = 2`,
  );
  return (created.rowCount ?? 0) + (added.rowCount ?? 0);
}

describe('events stored at an older schema version', () => {
  it('replay into the same read models as the current version, and read in the current shape', async () => {
    const written = await readModelDigests(t.readPool);
    const { rows: orders } = await t.pool.query<{ id: string }>(
      `SELECT aggregate_id::text AS id FROM outbox WHERE event_type = 'OrderItemAdded' LIMIT 1`,
    );
    const orderId = orders[0]!.id;

    expect(await downgradeOutbox()).toBeGreaterThan(20);
    const { rows: stored } = await t.pool.query<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM outbox WHERE event_type = 'OrderCreated' LIMIT 1`,
    );
    expect(stored[0]!.payload).toHaveProperty('totalCents');
    expect(stored[0]!.payload).not.toHaveProperty('total');
    await checkEventVersions(pgSql(t.pool));

    // Every read model rebuilt from position zero over the version-1 outbox.
    for (const projection of ALL_PROJECTIONS) await startRebuild(t.readPool, projection, 'test', t.outboxPool);
    await t.app.engine!.syncRebuilds();
    await until('every rebuild to be swapped in', async () => {
      const { rows } = await t.readPool.query('SELECT name FROM projection_rebuilds');
      return rows.length === 0;
    });
    await caughtUp(t.pools);
    expect(await readModelDigests(t.readPool)).toEqual(written);
    await expectReadModelsMatchWriteTables(t.pools);

    // The audit trail shows the stored version-1 events in the current shape.
    const history = (await t.gql(History, { id: orderId })).data!.orderHistory;
    const created = history.find((e) => e.type === 'OrderCreated')!;
    const payload = JSON.parse(created.payload) as Record<string, unknown>;
    expect(payload).toMatchObject({ total: { currency: 'EUR', amountCents: expect.any(Number) } });
    expect(payload).not.toHaveProperty('totalCents');
    expect((payload.items as Record<string, unknown>[])[0]).toMatchObject({ unitPrice: { currency: 'EUR' } });
  });

  it('with no upcaster path stops the service at start-up, naming the type and the versions', async () => {
    await t.app.engine!.stop();
    await t.pool.query(
      `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
       VALUES (gen_random_uuid(), 'OrderCreated', 'Order', gen_random_uuid(), 1, 9, '{}'::jsonb, 'test')`,
    );
    await expect(checkEventVersions(pgSql(t.pool))).rejects.toThrow(
      "OrderCreated version 9 is newer than this code's version 2 (written by a newer release?) (1 stored events)",
    );
    const proc = spawnParallax({ ...t.databaseEnv, ROLE: 'api' });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.output.join('')).toContain(
      "event versions: the outbox holds events this code cannot read: OrderCreated version 9 is newer than this code's version 2",
    );
    expect(proc.output.join('')).not.toContain('"listening"');
    await t.pool.query(`DELETE FROM outbox WHERE schema_version = 9`);
  });
});
