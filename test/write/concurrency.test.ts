import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing, writeCounts } from '../support/db.ts';
import { CreateOrder, UpdateOrderStatus } from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { outboxFor } from '../support/outbox.ts';

const CALLERS = 20;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('updateOrderStatus', () => {
  it(`lets exactly one of ${CALLERS} concurrent callers with the same expectedVersion win`, async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const order = await givenOrder(t, customer.id, [{ productId: product.id, quantity: 1 }]);
    const orderId = order.order.id;

    const responses = await Promise.all(
      Array.from({ length: CALLERS }, () =>
        t.gql(UpdateOrderStatus, { input: { orderId, status: 'CONFIRMED', expectedVersion: 1 } }),
      ),
    );
    const results = responses.map((r) => r.data?.updateOrderStatus ?? r);
    const winners = results.filter((r) => '__typename' in r && r.__typename === 'OrderPayload');
    const conflicts = results.filter((r) => '__typename' in r && r.__typename === 'ConcurrencyConflict');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ version: 2, order: { id: orderId, status: 'CONFIRMED', version: 2 } });
    expect(conflicts).toHaveLength(CALLERS - 1);
    for (const conflict of conflicts) expect(conflict).toMatchObject({ expectedVersion: 1, currentVersion: 2 });

    const events = await outboxFor(t.pool, orderId);
    expect(events.map((e) => [e.eventType, e.aggregateVersion])).toEqual([
      ['OrderCreated', 1],
      ['OrderStatusChanged', 2],
    ]);
    const { rows } = await t.pool.query('SELECT status, version FROM orders WHERE id = $1', [orderId]);
    expect(rows).toEqual([{ status: 'CONFIRMED', version: 2 }]);
  });
});

describe('createOrder', () => {
  it(`places one order for ${CALLERS} concurrent calls with one idempotency key and the same input`, async () => {
    const product = await givenProduct(t, { priceCents: 700 });
    const customer = await givenCustomer(t);
    const input = {
      customerId: customer.id,
      items: [{ productId: product.id, quantity: 3 }],
      idempotencyKey: `checkout-${customer.id}`,
    };
    const before = await writeCounts(t.pool);

    const responses = await Promise.all(Array.from({ length: CALLERS }, () => t.gql(CreateOrder, { input })));
    const results = responses.map((r) => {
      const result = r.data?.createOrder;
      if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(r));
      return { orderId: result.order.id, version: result.version, position: result.position };
    });
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]!.version).toBe(1);

    expect(await writeCounts(t.pool)).toEqual({
      ...before,
      orders: before.orders! + 1,
      order_items: before.order_items! + 1,
      outbox: before.outbox! + 1,
      idempotency_records: before.idempotency_records! + 1,
    });
    const events = await outboxFor(t.pool, results[0]!.orderId);
    expect(events.map((e) => e.eventType)).toEqual(['OrderCreated']);
  });

  it('rejects a second order with the same idempotency key and other items, and writes nothing', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const idempotencyKey = `retry-${customer.id}`;
    const first = await t.gql(CreateOrder, {
      input: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }], idempotencyKey },
    });
    expect(first.data?.createOrder.__typename).toBe('OrderPayload');

    const second = await changesNothing(t.pool, () =>
      t.gql(CreateOrder, {
        input: { customerId: customer.id, items: [{ productId: product.id, quantity: 2 }], idempotencyKey },
      }),
    );
    const result = second.data?.createOrder;
    if (result?.__typename !== 'ValidationError') throw new Error(JSON.stringify(second));
    expect(result.issues.map((i) => i.path)).toEqual([['input', 'idempotencyKey']]);
  });

  it('refuses the order when its customer is erased while it waits for the customer lock, and writes nothing', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    // An erasure in flight: it holds the customer lock (as eraseCustomer does) and has
    // erased the row, not yet committed.
    const eraser = await t.pool.connect();
    try {
      await eraser.query('BEGIN');
      await eraser.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`Customer:${customer.id}`]);
      await eraser.query('UPDATE customers SET erased_at = now() WHERE id = $1', [customer.id]);
      const before = await writeCounts(t.pool);
      const pending = t.gql(CreateOrder, {
        input: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }] },
      });
      // createOrder's first statement, which also reads the customer, waits for the lock.
      await expect
        .poll(
          async () =>
            (
              await t.pool.query(
                "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
              )
            ).rows[0].n,
          { timeout: 10_000 },
        )
        .toBe(1);
      await eraser.query('COMMIT');
      const result = (await pending).data?.createOrder;
      expect(result).toMatchObject({ __typename: 'NotFoundError', entity: 'Customer', id: customer.id });
      expect(await writeCounts(t.pool)).toEqual(before);
    } finally {
      await eraser.query('ROLLBACK').catch(() => {});
      eraser.release();
    }
  });
});
