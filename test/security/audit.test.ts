// The audit trail: orderHistory(id) lists an order's outbox events with actor, time
// and type; support sees email-like actors masked; customers may not ask.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/jwt.ts';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const HISTORY = 'query($id: ID!) { orderHistory(id: $id) { position type version occurredAt actor payload } }';

interface AuditRow {
  position: string;
  type: string;
  version: number;
  occurredAt: string;
  actor: string | null;
  payload: string;
}

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
    expect(rows.map((r) => [r.type, r.version, r.actor])).toEqual([
      ['OrderCreated', 1, `customer:${customerId}`],
      ['OrderStatusChanged', 2, 'sam.support@example.com'],
    ]);
    for (const r of rows) {
      expect(Math.abs(new Date(r.occurredAt).getTime() - started)).toBeLessThan(60_000);
      expect(r.position).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(JSON.parse(rows[1]!.payload)).toMatchObject({ to: 'CONFIRMED' });

    const forSupport = await t.request({ query: HISTORY, variables: { id: orderId } }, as(t.supportToken));
    const supportRows = (forSupport.json.data as { orderHistory: AuditRow[] }).orderHistory;
    expect(supportRows.map((r) => r.actor)).toEqual([`customer:${customerId}`, 's***@example.com']);
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
});
