// A command that cannot get a connection is an outage, not a bug: it answers UNAVAILABLE
// (retryable) once the pool gave it none for the command runner's wait (10 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { writeCounts } from '../support/db.ts';
import { CreateOrder } from '../support/documents.ts';
import { givenCustomer, givenProduct } from '../support/fixtures.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ poolSize: 2 });
});
afterAll(async () => t.close());

describe('createOrder', () => {
  it('answers UNAVAILABLE when no pool connection is free within the wait, then runs once one is', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const input = { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }] };
    const before = await writeCounts(t.pool);
    const held = await Promise.all([t.pool.connect(), t.pool.connect()]);
    let response: Awaited<ReturnType<typeof t.gql<unknown, unknown>>>;
    try {
      response = await t.gql(CreateOrder, { input });
    } finally {
      for (const client of held) client.release();
    }
    expect(response.errors?.map((e) => e.extensions)).toEqual([
      expect.objectContaining({ code: 'UNAVAILABLE', retryable: true }),
    ]);
    expect(await writeCounts(t.pool)).toEqual(before);

    const retry = await t.gql(CreateOrder, { input });
    expect(retry.data?.createOrder.__typename).toBe('OrderPayload');
  }, 30_000);
});
