import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOrderItem, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createCaughtUpTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen, subscribeSse, subscribeWs, type TestServer } from '../support/server.ts';
import { adminContext, type Catalogue } from '../support/workload.ts';

const ORDER_LIST = `subscription Changes($customerId: ID, $status: OrderStatus, $after: String) {
  orderListChanged(customerId: $customerId, status: $status, after: $after) {
    kind position order { id customerId status totalCents }
  }
}`;

interface Change {
  kind: 'UPSERT' | 'REMOVE';
  position: string;
  order: { id: string; customerId: string; status: string; totalCents: number };
}

let t: TestApp;
let catalogue: Catalogue;
let server: TestServer;

beforeAll(async () => {
  ({ t, catalogue } = await createCaughtUpTestApp({ products: 3, customers: 4 }, { pollMs: 200 }));
  server = await listen(t);
});
afterAll(async () => {
  await server.close();
  await t.close();
});

async function orderFor(customerIndex: number) {
  return createOrder(adminContext(t.app), {
    customerId: catalogue.customerIds[customerIndex]!,
    items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
  });
}

describe('orderListChanged', () => {
  it('delivers changes over WebSocket and SSE once the read model has them', async () => {
    const ws = subscribeWs<Change>(server.url, t.adminToken, ORDER_LIST);
    const sse = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    await new Promise((r) => setTimeout(r, 1000));
    const order = await orderFor(0);
    await until(
      'both clients to receive it',
      async () =>
        ws.items.some((c) => c.order.id === order.orderId) && sse.items.some((c) => c.order.id === order.orderId),
    );
    const seen = ws.items.find((c) => c.order.id === order.orderId)!;
    expect(seen).toMatchObject({ kind: 'UPSERT', order: { status: 'PENDING' } });
    // Published after commit: a query already sees it.
    const { rowCount } = await t.readPool.query('SELECT 1 FROM order_list_view WHERE order_id = $1', [order.orderId]);
    expect(rowCount).toBe(1);
    ws.stop();
    sse.stop();
  });

  it("never sends a customer another customer's order, with two customers writing concurrently", async () => {
    const [a, b] = [catalogue.customerIds[1]!, catalogue.customerIds[2]!];
    const subA = subscribeWs<Change>(server.url, await t.customerToken(a), ORDER_LIST);
    const subB = subscribeSse<Change>(server.url, await t.customerToken(b), ORDER_LIST);
    const sneaky = subscribeWs<Change>(server.url, await t.customerToken(a), ORDER_LIST, { customerId: b });
    await new Promise((r) => setTimeout(r, 1000));
    const orders = await Promise.all(Array.from({ length: 20 }, (_, i) => orderFor(i % 2 === 0 ? 1 : 2)));
    await until('each customer to get its 10 orders', async () => subA.items.length >= 10 && subB.items.length >= 10);
    await new Promise((r) => setTimeout(r, 1000));
    expect(subA.items.every((c) => c.order.customerId === a)).toBe(true);
    expect(subB.items.every((c) => c.order.customerId === b)).toBe(true);
    expect(subA.items.length).toBe(10);
    expect(subB.items.length).toBe(10);
    expect(orders).toHaveLength(20);
    expect(sneaky.items).toEqual([]);
    expect(JSON.stringify(sneaky.errors)).toContain('FORBIDDEN');
    for (const s of [subA, subB, sneaky]) s.stop();
  });

  it('tells a status-filtered subscriber to remove an order that left the status', async () => {
    const sub = subscribeWs<Change>(server.url, t.adminToken, ORDER_LIST, { status: 'PENDING' });
    await new Promise((r) => setTimeout(r, 1000));
    const order = await orderFor(3);
    await updateOrderStatus(adminContext(t.app), { orderId: order.orderId, status: 'CONFIRMED' });
    await until('upsert then remove', async () => sub.items.filter((c) => c.order.id === order.orderId).length >= 2);
    expect(sub.items.filter((c) => c.order.id === order.orderId).map((c) => c.kind)).toEqual(['UPSERT', 'REMOVE']);
    sub.stop();
  });

  it('resumes after a disconnect: exactly the 50 changes missed, in order, then live ones', async () => {
    const first = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST);
    await new Promise((r) => setTimeout(r, 1000));
    const before = await orderFor(0);
    await until('the first change', async () => first.items.some((c) => c.order.id === before.orderId));
    const last = first.items.at(-1)!.position;
    first.stop();

    const missed: string[] = [];
    for (let i = 0; i < 50; i++) missed.push((await orderFor(i % 4)).orderId);
    await caughtUp(t.pools);

    const resumed = subscribeWs<Change>(server.url, t.adminToken, ORDER_LIST, { after: last });
    await until('the 50 missed changes', async () => resumed.items.length >= 50);
    const live = await orderFor(1);
    await until('the live change', async () => resumed.items.length >= 51);
    await new Promise((r) => setTimeout(r, 1000));
    expect(resumed.items.slice(0, 50).map((c) => c.order.id)).toEqual(missed);
    expect(resumed.items.slice(50).map((c) => c.order.id)).toEqual([live.orderId]);
    resumed.stop();
  });
  it('shows every item of an order in orderChanged after two addOrderItem commands', async () => {
    const order = await orderFor(2);
    const sub = subscribeWs<{ id: string; lineCount: number; items: { lineNo: number }[] }>(
      server.url,
      t.adminToken,
      'subscription($id: ID!) { orderChanged(id: $id) { id lineCount items { lineNo } } }',
      { id: order.orderId },
    );
    await new Promise((r) => setTimeout(r, 1000));
    await addOrderItem(adminContext(t.app), {
      orderId: order.orderId,
      productId: catalogue.productIds[1]!,
      quantity: 1,
    });
    await until('the first addition', async () => sub.items.some((o) => o.lineCount === 2));
    await addOrderItem(adminContext(t.app), {
      orderId: order.orderId,
      productId: catalogue.productIds[2]!,
      quantity: 1,
    });
    const last = await until('the second addition', async () => sub.items.find((o) => o.lineCount === 3));
    // Items are read when the change is delivered, never from a cache kept since an earlier one.
    expect(last.items.map((i) => i.lineNo)).toEqual([1, 2, 3]);
    for (const o of sub.items) expect(o.items).toHaveLength(o.lineCount);
    sub.stop();
  });
});
