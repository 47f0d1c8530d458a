import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import { CreateProduct } from '../support/documents.ts';
import { expectMaskedInternalError, failingAfterAppend } from '../support/failure.ts';
import { expectOneTransaction, outboxEnd } from '../support/outbox.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('createProduct', () => {
  it('writes the product and one ProductCreated outbox row in one transaction', async () => {
    const end = await outboxEnd(t.pool);
    const res = await t.gql(CreateProduct, { input: { sku: 'TB-OAK-180', name: ' Oak table ', priceCents: 49_900 } });
    const result = res.data?.createProduct;
    if (result?.__typename !== 'ProductPayload') throw new Error(JSON.stringify(res));
    const id = result.product.id;
    expect(result.version).toBe(1);
    expect(result.product).toEqual({ id, sku: 'TB-OAK-180', name: 'Oak table', priceCents: 49_900 });
    const { rows } = await t.pool.query('SELECT sku, name, price_cents FROM products WHERE id = $1', [id]);
    expect(rows).toEqual([{ sku: 'TB-OAK-180', name: 'Oak table', price_cents: 49_900 }]);
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'ProductCreated',
          aggregateType: 'Product',
          aggregateId: id,
          aggregateVersion: 1,
          actor: 'test-admin',
          payload: { productId: id, sku: 'TB-OAK-180', name: 'Oak table', priceCents: 49_900 },
        },
      ],
      wrote: [{ table: 'products', where: { id } }],
    });
  });

  it('writes neither the product nor its event when the command fails inside its transaction', async () => {
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () =>
        t.gql(CreateProduct, { input: { sku: 'NEVER-STORED', name: 'Never stored', priceCents: 100 } }),
      ),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'createProduct', appended: [expect.objectContaining({ eventType: 'ProductCreated' })] },
    ]);
    // The SKU was not taken by the failed attempt.
    const retry = await t.gql(CreateProduct, { input: { sku: 'NEVER-STORED', name: 'Stored now', priceCents: 100 } });
    expect(retry.data?.createProduct.__typename).toBe('ProductPayload');
  });
});
