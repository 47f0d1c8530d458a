import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, expectReadModelsMatchWriteTables } from '../support/projections.ts';
import { adminContext, type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;

beforeAll(async () => {
  // order_list_view and order_analytics INLINE: analytics is kept by deltas, so a
  // second application by the engine would show up as a wrong count.
  // INLINE writes the read models in the command's transaction: one database, whatever the run's layout.
  t = await createTestApp({
    env: { PROJECTION_MODES: 'order_list_view=INLINE,order_analytics=INLINE' },
    readDatabaseUrl: null,
  });
  catalogue = await givenCatalogue(t.app, 3, 3);
});
afterAll(async () => t.close());

describe('INLINE projections', () => {
  it('make the read-model row visible inside the command transaction itself', async () => {
    let seenInTransaction: unknown[] = [];
    t.app.hooks.afterAppend!.push(async (tx, events) => {
      seenInTransaction = await tx.$queryRawUnsafe(
        'SELECT order_id::text AS order_id, status FROM order_list_view WHERE order_id = $1::uuid',
        events[0]!.aggregateId,
      );
    });
    const order = await createOrder(adminContext(t.app), {
      customerId: catalogue.customerIds[0]!,
      items: [{ productId: catalogue.productIds[0]!, quantity: 2 }],
    });
    t.app.hooks.afterAppend!.pop();
    expect(seenInTransaction).toEqual([{ order_id: order.orderId, status: 'PENDING' }]);
    // No engine is running: the ASYNC read models have not seen it, the INLINE ones have.
    const listed = await t.readPool.query('SELECT 1 FROM order_list_view WHERE order_id = $1', [order.orderId]);
    expect(listed.rowCount).toBe(1);
    const searched = await t.readPool.query('SELECT 1 FROM order_search WHERE order_id = $1', [order.orderId]);
    expect(searched.rowCount).toBe(0);
  });

  it('are not applied a second time when the engine reaches their events', async () => {
    await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 40 });
    // order_analytics is kept by deltas: a second application of any event would show
    // as a count or revenue that differs from the recomputation.
    const before = await t.readPool.query('SELECT * FROM order_analytics ORDER BY day, status');
    await t.startEngine();
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
    const after = await t.readPool.query('SELECT * FROM order_analytics ORDER BY day, status');
    expect(after.rows).toEqual(before.rows);
  });
});
