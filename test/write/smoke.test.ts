import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('createOrder', () => {
  it('writes the order and one OrderCreated outbox row', async () => {
    const product = await givenProduct(t, { priceCents: 250 });
    const customer = await givenCustomer(t);
    const result = await givenOrder(t, customer.id, [{ productId: product.id, quantity: 4 }]);
    expect(result.order.totalCents).toBe(1000);
    const { rows } = await t.pool.query('SELECT event_type, aggregate_version FROM outbox WHERE aggregate_id = $1', [
      result.order.id,
    ]);
    expect(rows).toEqual([{ event_type: 'OrderCreated', aggregate_version: 1 }]);
  });
});
