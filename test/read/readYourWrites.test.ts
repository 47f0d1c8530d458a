import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePosition } from '../../src/outbox/position.ts';
import { graphql } from '../generated/index.js';
import { createCaughtUpTestApp, type TestApp } from '../support/app.ts';
import type { Catalogue } from '../support/workload.ts';

const PlaceOrder = graphql(`
  mutation PlaceOrder($input: CreateOrderInput!, $consistency: MutationConsistencyInput) {
    createOrder(input: $input, consistency: $consistency) {
      __typename
      ... on OrderPayload { position order { id } }
    }
  }
`);

const OrderById = graphql(`
  query OrderById($id: ID!, $consistency: ConsistencyInput) {
    order(id: $id, consistency: $consistency) { id status totalCents customerName items { sku quantity } }
  }
`);

let t: TestApp;
let catalogue: Catalogue;
beforeAll(async () => {
  ({ t, catalogue } = await createCaughtUpTestApp({ products: 3, customers: 3 }, { pollMs: 1000 }));
});
afterAll(async () => t.close());

async function place(i: number, consistency?: { waitFor: ('order_list_view' | 'order_search')[]; timeoutMs?: number }) {
  const res = await t.gql(PlaceOrder, {
    input: {
      customerId: catalogue.customerIds[i % 3]!,
      items: [{ productId: catalogue.productIds[i % 3]!, quantity: 1 + (i % 4) }],
    },
    consistency,
  });
  const result = res.data?.createOrder;
  if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
  return result;
}

describe('read-your-writes', () => {
  it('lets each of 200 create-then-query pairs see its own write when the query passes the token', async () => {
    let seen = 0;
    for (let i = 0; i < 200; i++) {
      const { position, order } = await place(i);
      const res = await t.gql(OrderById, { id: order.id, consistency: { atLeast: position, timeoutMs: 5000 } });
      expect(res.errors).toBeUndefined();
      if (res.data?.order?.id === order.id) seen += 1;
    }
    expect(seen).toBe(200);
  });

  it('shows the race it closes: without the token, reads right after the write miss it', async () => {
    let missed = 0;
    for (let i = 0; i < 50; i++) {
      const { order } = await place(i);
      const res = await t.gql(OrderById, { id: order.id });
      if (res.data?.order === null) missed += 1;
    }
    console.log(`without a token, ${missed} of 50 immediate reads missed their own write`);
    expect(missed).toBeGreaterThan(0);
  });

  it('answers CONSISTENCY_TIMEOUT after about timeoutMs for a token from the future', async () => {
    const future = encodePosition({ txId: 10n ** 12n, seq: 1n });
    const started = Date.now();
    const res = await t.gql(OrderById, {
      id: catalogue.customerIds[0]!,
      consistency: { atLeast: future, timeoutMs: 300 },
    });
    const elapsed = Date.now() - started;
    expect(res.errors?.[0]?.extensions?.code).toBe('CONSISTENCY_TIMEOUT');
    expect(res.data?.order ?? null).toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(290);
  });

  it('rejects a malformed token with BAD_USER_INPUT', async () => {
    const res = await t.gql(OrderById, { id: catalogue.customerIds[0]!, consistency: { atLeast: 'not-a-token' } });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('returns a mutation only once the projections in waitFor have applied it (hybrid mode)', async () => {
    for (let i = 0; i < 20; i++) {
      const { order } = await place(i, { waitFor: ['order_list_view', 'order_search'] });
      const listed = await t.readPool.query('SELECT 1 FROM order_list_view WHERE order_id = $1', [order.id]);
      const searched = await t.readPool.query('SELECT 1 FROM order_search WHERE order_id = $1', [order.id]);
      expect(listed.rowCount).toBe(1);
      expect(searched.rowCount).toBe(1);
    }
  });

  it('reports position and lag of every read model a response read, in extensions', async () => {
    const { order, position } = await place(1);
    const res = (await t.gql(OrderById, { id: order.id, consistency: { atLeast: position } })) as {
      extensions?: { readModels?: Record<string, { position: string; lagEvents: number; lagMs: number }> };
    };
    const freshness = res.extensions?.readModels?.order_list_view;
    expect(freshness?.position).toEqual(expect.any(String));
    expect(freshness?.lagEvents).toEqual(expect.any(Number));
    expect(freshness?.lagMs).toEqual(expect.any(Number));
  });
});
