// The audit trail: orderHistory(id) lists an order's outbox events with actor (a
// subject id, never an email), its role, time and type; customers may not ask. An
// erased customer's token changes nothing any more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/jwt.ts';
import { actorId } from '../../src/auth/subject.ts';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';
import { CancelOrder, EraseCustomer, RenameCustomer } from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const HISTORY =
  'query($id: ID!) { orderHistory(id: $id) { position type version occurredAt actor actorRole payload } }';

interface AuditRow {
  position: string;
  type: string;
  version: number;
  occurredAt: string;
  actor: string | null;
  actorRole: string | null;
  payload: string;
}

const hashOf = (sub: string) => actorId({ sub, role: 'support' });

describe('orderHistory', () => {
  it('lists the events of an order with actor, time and type, masked per role', async () => {
    const tokens = new TokenService(TEST_JWT_SECRET);
    const adminByEmail = await tokens.sign({ sub: 'ada.admin@example.com', role: 'admin' });
    const supportByEmail = await tokens.sign({ sub: 'sam.support@example.com', role: 'support' });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });

    const product = await t.request(
      {
        query:
          'mutation { createProduct(input: { sku: "AUD-1", name: "Audited", priceCents: 250 }) { ... on ProductPayload { product { id } } } }',
      },
      as(adminByEmail),
    );
    const productId = (product.json.data as { createProduct: { product: { id: string } } }).createProduct.product.id;
    const customer = await t.request(
      {
        query:
          'mutation { createCustomer(input: { name: "Audrey", email: "audrey@example.com" }) { ... on CustomerPayload { customer { id } } } }',
      },
      as(adminByEmail),
    );
    const customerId = (customer.json.data as { createCustomer: { customer: { id: string } } }).createCustomer.customer
      .id;
    const customerToken = await t.customerToken(customerId);
    const created = await t.request(
      {
        query: `mutation { createOrder(input: { customerId: "${customerId}", items: [{ productId: "${productId}", quantity: 2 }] }) { ... on OrderPayload { order { id } } } }`,
      },
      as(customerToken),
    );
    const orderId = (created.json.data as { createOrder: { order: { id: string } } }).createOrder.order.id;
    const confirmed = await t.request(
      { query: `mutation { updateOrderStatus(input: { orderId: "${orderId}", status: CONFIRMED }) { __typename } }` },
      as(supportByEmail),
    );
    expect(confirmed.json.data).toEqual({ updateOrderStatus: { __typename: 'OrderPayload' } });
    const started = Date.now();

    const forAdmin = await t.request({ query: HISTORY, variables: { id: orderId } }, as(t.adminToken));
    expect(forAdmin.json.errors).toBeUndefined();
    const rows = (forAdmin.json.data as { orderHistory: AuditRow[] }).orderHistory;
    expect(rows.map((r) => [r.type, r.version, r.actor, r.actorRole])).toEqual([
      ['OrderCreated', 1, `customer:${customerId}`, 'customer'],
      ['OrderStatusChanged', 2, hashOf('sam.support@example.com'), 'support'],
    ]);
    expect(hashOf('sam.support@example.com')).toMatch(/^sha256:[0-9a-f]{16}$/);
    for (const r of rows) {
      expect(Math.abs(new Date(r.occurredAt).getTime() - started)).toBeLessThan(60_000);
      expect(r.position).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(JSON.parse(rows[1]!.payload)).toMatchObject({ to: 'CONFIRMED' });

    const forSupport = await t.request({ query: HISTORY, variables: { id: orderId } }, as(t.supportToken));
    const supportRows = (forSupport.json.data as { orderHistory: AuditRow[] }).orderHistory;
    expect(supportRows.map((r) => r.actor)).toEqual([`customer:${customerId}`, hashOf('sam.support@example.com')]);
    expect(supportRows.map((r) => r.actorRole)).toEqual(['customer', 'support']);
    expect(supportRows.map((r) => r.type)).toEqual(['OrderCreated', 'OrderStatusChanged']);

    const forCustomer = await t.request({ query: HISTORY, variables: { id: orderId } }, as(customerToken));
    expect(forCustomer.json.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(forCustomer.json.data ?? null).toBeNull();
  });

  it('is empty for an unknown order or an id that is no id', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope']) {
      const res = await t.request({ query: HISTORY, variables: { id } }, { authorization: `Bearer ${t.adminToken}` });
      expect(res.json.data).toEqual({ orderHistory: [] });
    }
  });

  it('records the role and never an email as the actor, even when the token names its subject by email (finding 7)', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t, { email: 'grace.audit@example.com' });
    const byEmail = await t.app.tokens.sign({
      sub: 'grace.audit@example.com',
      role: 'customer',
      customerId: customer.id,
    });
    const order = await givenOrder(t, customer.id, [{ productId: product.id, quantity: 1 }], byEmail);
    const res = await t.request(
      { query: HISTORY, variables: { id: order.order.id } },
      { authorization: `Bearer ${t.adminToken}` },
    );
    const rows = (res.json.data as { orderHistory: AuditRow[] }).orderHistory;
    expect(rows.map((r) => [r.actor, r.actorRole])).toEqual([[hashOf('grace.audit@example.com'), 'customer']]);
    const stored = await t.pool.query<{ actor: string; actor_role: string }>(
      `SELECT actor, actor_role FROM outbox WHERE aggregate_id = $1::uuid`,
      [order.order.id],
    );
    expect(stored.rows).toEqual([{ actor: hashOf('grace.audit@example.com'), actor_role: 'customer' }]);
    const anyEmail = await t.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE actor LIKE '%@%'`);
    expect(anyEmail.rows[0]!.n).toBe(0);
  });

  it("refuses an erased customer's token for every write with Forbidden, changing nothing (finding 7)", async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const own = await t.customerToken(customer.id);
    const order = await givenOrder(t, customer.id, [{ productId: product.id, quantity: 1 }], own);
    const erased = await t.gql(EraseCustomer, { input: { customerId: customer.id } });
    expect(erased.data?.eraseCustomer.__typename).toBe('CustomerPayload');
    const outboxBefore = (await t.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0];

    const cancel = await t.gql(CancelOrder, { input: { orderId: order.order.id } }, own);
    expect(cancel.data?.cancelOrder).toMatchObject({
      __typename: 'Forbidden',
      message: expect.stringContaining('erased'),
    });
    const rename = await t.gql(RenameCustomer, { input: { customerId: customer.id, name: 'Back Again' } }, own);
    expect(rename.data?.renameCustomer).toMatchObject({ __typename: 'Forbidden' });
    const status = await t.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1::uuid', [
      order.order.id,
    ]);
    expect(status.rows[0]!.status).toBe('PENDING');
    expect((await t.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0]).toEqual(outboxBefore);

    // Staff may still act on the order of an erased customer.
    const byAdmin = await t.gql(CancelOrder, { input: { orderId: order.order.id } });
    expect(byAdmin.data?.cancelOrder.__typename).toBe('OrderPayload');
  });
});
