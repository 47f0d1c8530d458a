// Fan-out: subscribers of the same operation with the same read scope share one
// execution per change (and one serialization); different scopes, filters or resumes
// do not share, and each subscriber still gets exactly what it would get alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveStats } from '../../src/graphql/delivery.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createCaughtUpTestApp, type TestApp } from '../support/app.ts';
import { until } from '../support/projections.ts';
import { listen, type Received, subscribeSse, subscribeWs, type TestServer } from '../support/server.ts';
import { adminContext, type Catalogue } from '../support/workload.ts';

const ORDER_LIST = `subscription Shared($status: OrderStatus, $after: String) {
  orderListChanged(status: $status, after: $after) { kind position order { id customerId status } }
}`;

interface Change {
  kind: 'UPSERT' | 'REMOVE';
  position: string;
  order: { id: string; customerId: string; status: string };
}

let t: TestApp;
let catalogue: Catalogue;
let server: TestServer;

beforeAll(async () => {
  ({ t, catalogue } = await createCaughtUpTestApp({ products: 2, customers: 3 }, { pollMs: 200 }));
  server = await listen(t);
});
afterAll(async () => {
  await server.close();
  await t.close();
});

const orderFor = (customer: number) =>
  createOrder(adminContext(t.app), {
    customerId: catalogue.customerIds[customer]!,
    items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
  });

const settle = () => new Promise((r) => setTimeout(r, 1000));

/** Waits until `n` more subscribers than `before` are members of the delivery engine. */
const members = (before: { members: number }, n: number) =>
  until(`${n} shared members`, async () => liveStats().members - before.members === n);

function stopAll(subs: Received<Change>[]) {
  for (const s of subs) s.stop();
}

describe('shared subscription executions', () => {
  it('runs one execution for many subscribers of the same operation and scope, and each gets every change', async () => {
    const before = liveStats();
    const subs = [
      subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST),
      subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST),
      subscribeWs<Change>(server.url, t.adminToken, ORDER_LIST),
    ];
    await members(before, 3);
    expect(liveStats().shared - before.shared).toBe(1);
    const orders = [await orderFor(0), await orderFor(1)];
    await until('every subscriber to get both orders', async () => subs.every((s) => s.items.length >= 2));
    await settle();
    for (const s of subs) {
      expect(s.errors).toEqual([]);
      expect(s.items.map((c) => c.order.id)).toEqual(orders.map((o) => o.orderId));
    }
    // The same payloads (one execution, serialized once for the SSE subscribers).
    expect(subs[0]!.items).toEqual(subs[1]!.items);
    stopAll(subs);
    await until('the group to end with its last member', async () => liveStats().shared === before.shared);
  });

  it('keeps a group alive while members remain, and new members join it', async () => {
    const before = liveStats();
    const first = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    const second = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    await members(before, 2);
    first.stop();
    await members(before, 1);
    const third = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    await members(before, 2);
    const during = liveStats();
    expect([during.shared - before.shared, during.members - before.members]).toEqual([1, 2]);
    const order = await orderFor(2);
    await until('both remaining subscribers to get it', async () =>
      [second, third].every((s) => s.items.some((c) => c.order.id === order.orderId)),
    );
    stopAll([second, third]);
    await until('the group to end', async () => liveStats().shared === before.shared);
  });

  it('does not share across read scopes, filters or resumes', async () => {
    const [a, b] = [catalogue.customerIds[0]!, catalogue.customerIds[1]!];
    const before = liveStats();
    const customerA = subscribeSse<Change>(server.url, await t.customerToken(a), ORDER_LIST);
    const customerB = subscribeSse<Change>(server.url, await t.customerToken(b), ORDER_LIST);
    const support = subscribeSse<Change>(server.url, t.supportToken, ORDER_LIST);
    const admin = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    const confirmedOnly = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST, { status: 'CONFIRMED' });
    const first = await orderFor(2);
    const resumed = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST, { after: first.position });
    await members(before, 6);
    await settle();
    // Six subscribers: five shared groups (customer A, customer B, support, admin, admin
    // CONFIRMED); the resume is a group of its own.
    const during = liveStats();
    expect(during.shared - before.shared).toBe(5);
    expect(during.groups - before.groups).toBe(6);
    expect(during.members - before.members).toBe(6);
    const orders = [await orderFor(0), await orderFor(1)];
    await until('admin and support to get all three', async () => admin.items.length >= 3 && support.items.length >= 3);
    await until('the resumed subscriber to get both', async () =>
      orders.every((o) => resumed.items.some((c) => c.order.id === o.orderId)),
    );
    await settle();
    expect(customerA.items.map((c) => c.order.id)).toEqual([orders[0]!.orderId]);
    expect(customerB.items.map((c) => c.order.id)).toEqual([orders[1]!.orderId]);
    expect(admin.items.map((c) => c.order.id)).toEqual([first, ...orders].map((o) => o.orderId));
    expect(support.items.map((c) => c.order.id)).toEqual([first, ...orders].map((o) => o.orderId));
    expect(confirmedOnly.items).toEqual([]);
    expect(resumed.items.some((c) => c.order.id === first.orderId)).toBe(false);
    stopAll([customerA, customerB, support, admin, confirmedOnly, resumed]);
  });
});
