import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import { AddOrderItem, CancelOrder, CreateCustomer, CreateOrder, Products, SchemaRoot } from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';

let t: TestApp;
let product: Awaited<ReturnType<typeof givenProduct>>;
let alice: { id: string; token: string };
let bob: { id: string; token: string };

beforeAll(async () => {
  t = await createTestApp();
  product = await givenProduct(t, { priceCents: 500 });
  const a = await givenCustomer(t, { name: 'Alice' });
  const b = await givenCustomer(t, { name: 'Bob' });
  alice = { id: a.id, token: await t.customerToken(a.id) };
  bob = { id: b.id, token: await t.customerToken(b.id) };
});
afterAll(async () => t.close());

async function orderRow(id: string) {
  const { rows } = await t.pool.query('SELECT status, version, total_cents FROM orders WHERE id = $1', [id]);
  return rows[0];
}

describe('a customer token', () => {
  it("cannot add an item to another customer's order", async () => {
    const order = await givenOrder(t, alice.id, [{ productId: product.id, quantity: 1 }]);
    const before = await orderRow(order.order.id);
    const res = await changesNothing(t.pool, () =>
      t.gql(AddOrderItem, { input: { orderId: order.order.id, productId: product.id, quantity: 1 } }, bob.token),
    );
    expect(res.data?.addOrderItem.__typename).toBe('Forbidden');
    expect(await orderRow(order.order.id)).toEqual(before);
  });

  it("cannot cancel another customer's order", async () => {
    const order = await givenOrder(t, alice.id, [{ productId: product.id, quantity: 1 }]);
    const before = await orderRow(order.order.id);
    const res = await changesNothing(t.pool, () =>
      t.gql(CancelOrder, { input: { orderId: order.order.id } }, bob.token),
    );
    expect(res.data?.cancelOrder.__typename).toBe('Forbidden');
    expect(await orderRow(order.order.id)).toEqual(before);
  });

  it('cannot create an order for another customer', async () => {
    const res = await changesNothing(t.pool, () =>
      t.gql(
        CreateOrder,
        { input: { customerId: alice.id, items: [{ productId: product.id, quantity: 1 }], idempotencyKey: 'bob-1' } },
        bob.token,
      ),
    );
    expect(res.data?.createOrder.__typename).toBe('Forbidden');
  });

  it('can create, extend and cancel its own order', async () => {
    const created = await givenOrder(t, bob.id, [{ productId: product.id, quantity: 1 }], bob.token);
    const orderId = created.order.id;
    const added = await t.gql(
      AddOrderItem,
      { input: { orderId, productId: product.id, quantity: 2, expectedVersion: 1 } },
      bob.token,
    );
    expect(added.data?.addOrderItem).toMatchObject({
      __typename: 'OrderPayload',
      version: 2,
      order: { totalCents: 1500 },
    });
    const cancelled = await t.gql(CancelOrder, { input: { orderId, expectedVersion: 2 } }, bob.token);
    expect(cancelled.data?.cancelOrder).toMatchObject({
      __typename: 'OrderPayload',
      order: { status: 'CANCELLED', version: 3 },
    });
    const { rows } = await t.pool.query('SELECT event_type, actor FROM outbox WHERE aggregate_id = $1 ORDER BY seq', [
      orderId,
    ]);
    const actor = `customer:${bob.id}`;
    expect(rows).toEqual([
      { event_type: 'OrderCreated', actor },
      { event_type: 'OrderItemAdded', actor },
      { event_type: 'OrderCancelled', actor },
    ]);
  });
});

describe('a request without a token', () => {
  it('is refused with UNAUTHENTICATED for a query', async () => {
    const res = await t.gql(Products, {}, null);
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('is refused with UNAUTHENTICATED for a mutation, and nothing is written', async () => {
    const res = await changesNothing(t.pool, () =>
      t.gql(CreateCustomer, { input: { name: 'Anonymous', email: 'anon@example.com' } }, null),
    );
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('may run an introspection-only query', async () => {
    const res = await t.gql(SchemaRoot, {}, null);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('may not hide a query behind introspection fields', async () => {
    const res = await t.request({ query: '{ __typename products { sku } }' });
    expect(res.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(res.json)).not.toContain(product.sku);
  });
});

describe('a bad token', () => {
  const key = new TextEncoder().encode(TEST_JWT_SECRET);
  const now = () => Math.floor(Date.now() / 1000);
  const tokens: { kind: string; sign: () => Promise<string> }[] = [
    {
      kind: 'a token with a bad signature',
      sign: () =>
        new SignJWT({ role: 'admin' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('mallory')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret')),
    },
    {
      kind: 'an expired token',
      sign: () =>
        new SignJWT({ role: 'admin' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('test-admin')
          .setIssuedAt(now() - 7200)
          .setExpirationTime(now() - 3600)
          .sign(key),
    },
    {
      kind: 'a token with an unknown role',
      sign: () =>
        new SignJWT({ role: 'superuser' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('mallory')
          .setExpirationTime('1h')
          .sign(key),
    },
    {
      kind: 'a customer token without a customerId',
      sign: () =>
        new SignJWT({ role: 'customer' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('mallory')
          .setExpirationTime('1h')
          .sign(key),
    },
    {
      kind: 'an unsigned token (alg none)',
      sign: async () => new UnsecuredJWT({ role: 'admin' }).setSubject('mallory').setExpirationTime('1h').encode(),
    },
  ];

  for (const { kind, sign } of tokens) {
    it(`${kind} is refused with UNAUTHENTICATED, and nothing is written`, async () => {
      const token = await sign();
      const query = await t.gql(Products, {}, token);
      expect(query.data ?? null).toBeNull();
      expect(query.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const mutation = await changesNothing(t.pool, () =>
        t.gql(CreateCustomer, { input: { name: 'Mallory', email: 'mallory@example.com' } }, token),
      );
      expect(mutation.data ?? null).toBeNull();
      expect(mutation.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  }

  it('a header that is not "Bearer <token>" is refused with UNAUTHENTICATED', async () => {
    const res = await t.request({ query: '{ products { sku } }' }, { authorization: 'Basic YWRtaW46YWRtaW4=' });
    expect(res.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
