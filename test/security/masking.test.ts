// Email masking, everywhere an email appears: admin sees it whole, support masked
// (j***@example.com), the customer itself whole, and no other customer at all — in
// queries and in live subscriptions, with subscribers of different roles watching the
// same change at the same time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen, type Received, subscribeSse, subscribeWs } from '../support/server.ts';
import { adminContext } from '../support/workload.ts';

const EMAIL = 'juliette.masked@example.com';
const MASKED = 'j***@example.com';

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let customerId: string;
let otherCustomerId: string;
let orderId: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp();
  await t.startEngine();
  server = await listen(t);
  const ctx = adminContext(t.app);
  const product = await createProduct(ctx, { sku: 'MASK-1', name: 'Mask', priceCents: 500 });
  customerId = (await createCustomer(ctx, { name: 'Juliette Masked', email: EMAIL })).customerId;
  otherCustomerId = (await createCustomer(ctx, { name: 'Other Person', email: 'other@example.com' })).customerId;
  orderId = (await createOrder(ctx, { customerId, items: [{ productId: product.productId, quantity: 1 }] })).orderId;
  await caughtUp(t.pools);
  tokens.admin = t.adminToken;
  tokens.support = t.supportToken;
  tokens.owner = await t.customerToken(customerId);
  tokens.other = await t.customerToken(otherCustomerId);
});

afterAll(async () => {
  await server?.close();
  await t?.close();
});

const EXPECTED: Record<string, string | null> = { admin: EMAIL, support: MASKED, owner: EMAIL };

async function query(token: string, text: string, variables: Record<string, unknown>) {
  const { json } = await t.request({ query: text, variables }, { authorization: `Bearer ${token}` });
  return json as {
    data?: Record<string, { customerEmail?: string | null; email?: string | null; nodes?: unknown[] } | null> | null;
    errors?: { extensions?: { code?: string } }[];
  };
}

describe('email masking', () => {
  it.each(['admin', 'support', 'owner'])(
    'order, orders and customer show the email to %s as the policy says',
    async (who) => {
      const token = tokens[who]!;
      const order = await query(token, 'query($id: ID!) { order(id: $id) { customerEmail } }', { id: orderId });
      expect(order.data?.order?.customerEmail).toBe(EXPECTED[who]);
      const orders = await query(
        token,
        'query($c: ID) { orders(first: 10, filter: { customerId: $c }) { nodes { id customerEmail } } }',
        { c: customerId },
      );
      expect(orders.data?.orders?.nodes).toEqual([{ id: orderId, customerEmail: EXPECTED[who] }]);
      const customer = await query(token, 'query($id: ID!) { customer(id: $id) { email } }', { id: customerId });
      expect(customer.data?.customer?.email).toBe(EXPECTED[who]);
    },
  );

  it('another customer sees neither the order nor the email', async () => {
    const order = await query(tokens.other!, 'query($id: ID!) { order(id: $id) { customerEmail } }', { id: orderId });
    expect(order.data?.order ?? null).toBeNull();
    const customer = await query(tokens.other!, 'query($id: ID!) { customer(id: $id) { email } }', { id: customerId });
    expect(customer.data?.customer ?? null).toBeNull();
    expect(JSON.stringify([order, customer])).not.toContain(EMAIL);
  });

  it('subscribers of each role, on both transports, get the email masked as their role says', async () => {
    type Change = { kind: string; order: { id: string; customerEmail: string | null } };
    const listQuery = 'subscription { orderListChanged { kind order { id customerEmail } } }';
    const orderQuery = 'subscription($id: ID!) { orderChanged(id: $id) { id customerEmail } }';
    const subscribers: { who: string; received: Received<Change | Change['order']>; pick: (x: unknown) => unknown }[] =
      [];
    for (const who of ['admin', 'support', 'owner']) {
      const pickList = (c: unknown) => (c as Change).order.customerEmail;
      const pickOrder = (o: unknown) => (o as Change['order']).customerEmail;
      subscribers.push({ who, received: subscribeSse(server.url, tokens[who]!, listQuery), pick: pickList });
      subscribers.push({ who, received: subscribeWs(server.url, tokens[who]!, listQuery), pick: pickList });
      subscribers.push({
        who,
        received: subscribeSse(server.url, tokens[who]!, orderQuery, { id: orderId }),
        pick: pickOrder,
      });
    }
    // The other customer's subscription on the list is accepted but scoped to its own orders.
    const other = subscribeSse<Change>(server.url, tokens.other!, listQuery);
    try {
      // Subscriptions start listening asynchronously: keep changing the order until
      // every subscriber has seen a change.
      let step = 0;
      let lastChange = 0;
      const statuses = ['CONFIRMED', 'SHIPPED', 'DELIVERED'] as const;
      await until(
        'every subscriber to receive a change',
        async () => {
          if (subscribers.every((s) => s.received.items.length > 0)) return true;
          if (step < statuses.length && Date.now() - lastChange > 1_000) {
            await updateOrderStatus(adminContext(t.app), { orderId, status: statuses[step]! });
            step += 1;
            lastChange = Date.now();
          }
          return false;
        },
        30_000,
      );
      for (const s of subscribers) {
        expect(s.received.errors, s.who).toEqual([]);
        for (const item of s.received.items) expect(s.pick(item), s.who).toBe(EXPECTED[s.who]);
      }
      expect(other.items).toEqual([]);
      expect(JSON.stringify(other.items)).not.toContain(EMAIL);
    } finally {
      for (const s of subscribers) s.received.stop();
      other.stop();
    }
  });
});
