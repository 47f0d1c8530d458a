import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import { AddOrderItem, CancelOrder, CreateOrder, UpdateOrderStatus } from '../support/documents.ts';
import { expectMaskedInternalError, failingAfterAppend } from '../support/failure.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { expectOneTransaction, outboxEnd } from '../support/outbox.ts';

let t: TestApp;
let customer: Awaited<ReturnType<typeof givenCustomer>>;
let keyboard: Awaited<ReturnType<typeof givenProduct>>;
let cable: Awaited<ReturnType<typeof givenProduct>>;

beforeAll(async () => {
  t = await createTestApp();
  customer = await givenCustomer(t);
  keyboard = await givenProduct(t, { name: 'Keyboard', priceCents: 250 });
  cable = await givenProduct(t, { name: 'Cable', priceCents: 1200 });
});
afterAll(async () => t.close());

async function orderRow(id: string) {
  const { rows } = await t.pool.query(
    'SELECT customer_id, status, total_cents, version, created_at FROM orders WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function itemRows(orderId: string) {
  const { rows } = await t.pool.query(
    'SELECT line_no, product_id, quantity, unit_price_cents FROM order_items WHERE order_id = $1 ORDER BY line_no',
    [orderId],
  );
  return rows;
}

function line(lineNo: number, product: typeof keyboard, quantity: number) {
  return {
    lineNo,
    productId: product.id,
    sku: product.sku,
    productName: product.name,
    quantity,
    unitPrice: { amountCents: product.priceCents, currency: 'EUR' },
  };
}

async function givenOrderIn(status: 'PENDING' | 'CONFIRMED') {
  const order = await givenOrder(t, customer.id, [{ productId: keyboard.id, quantity: 1 }]);
  if (status === 'PENDING') return order;
  const res = await t.gql(UpdateOrderStatus, { input: { orderId: order.order.id, status, expectedVersion: 1 } });
  expect(res.data?.updateOrderStatus.__typename).toBe('OrderPayload');
  return order;
}

describe('createOrder', () => {
  it('writes the order, its items and one OrderCreated outbox row in one transaction', async () => {
    const end = await outboxEnd(t.pool);
    const res = await t.gql(CreateOrder, {
      input: {
        customerId: customer.id,
        items: [
          { productId: keyboard.id, quantity: 4 },
          { productId: cable.id, quantity: 1 },
        ],
      },
    });
    const result = res.data?.createOrder;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    const id = result.order.id;
    expect(result.version).toBe(1);
    expect(result.order).toMatchObject({ customerId: customer.id, status: 'PENDING', totalCents: 2200, version: 1 });
    const row = await orderRow(id);
    expect(row).toMatchObject({ customer_id: customer.id, status: 'PENDING', total_cents: 2200, version: 1 });
    expect(await itemRows(id)).toEqual([
      { line_no: 1, product_id: keyboard.id, quantity: 4, unit_price_cents: 250 },
      { line_no: 2, product_id: cable.id, quantity: 1, unit_price_cents: 1200 },
    ]);
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderCreated',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 1,
          actor: 'test-admin',
          payload: {
            orderId: id,
            customerId: customer.id,
            items: [line(1, keyboard, 4), line(2, cable, 1)],
            total: { amountCents: 2200, currency: 'EUR' },
            createdAt: (row.created_at as Date).toISOString(),
          },
        },
      ],
      wrote: [
        { table: 'orders', where: { id } },
        { table: 'order_items', where: { order_id: id } },
      ],
    });
  });

  it('writes neither the order nor its items nor its event when the command fails inside its transaction', async () => {
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () =>
        t.gql(CreateOrder, {
          input: {
            customerId: customer.id,
            items: [{ productId: keyboard.id, quantity: 2 }],
            idempotencyKey: 'k-fail-1',
          },
        }),
      ),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'createOrder', appended: [expect.objectContaining({ eventType: 'OrderCreated' })] },
    ]);
    // Nor was the idempotency key used up: a retry with it places the order.
    const retry = await t.gql(CreateOrder, {
      input: { customerId: customer.id, items: [{ productId: keyboard.id, quantity: 2 }], idempotencyKey: 'k-fail-1' },
    });
    expect(retry.data?.createOrder.__typename).toBe('OrderPayload');
  });
});

describe('addOrderItem', () => {
  it('adds the line, moves the total and writes one OrderItemAdded outbox row in one transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const id = order.order.id;
    const end = await outboxEnd(t.pool);
    const res = await t.gql(
      AddOrderItem,
      { input: { orderId: id, productId: cable.id, quantity: 3, expectedVersion: 1 } },
      await t.customerToken(customer.id),
    );
    const result = res.data?.addOrderItem;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    expect(result.version).toBe(2);
    expect(result.order.totalCents).toBe(250 + 3 * 1200);
    expect(await orderRow(id)).toMatchObject({ status: 'PENDING', total_cents: 3850, version: 2 });
    expect(await itemRows(id)).toEqual([
      { line_no: 1, product_id: keyboard.id, quantity: 1, unit_price_cents: 250 },
      { line_no: 2, product_id: cable.id, quantity: 3, unit_price_cents: 1200 },
    ]);
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderItemAdded',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 2,
          actor: `customer:${customer.id}`,
          payload: { orderId: id, item: line(2, cable, 3), total: { amountCents: 3850, currency: 'EUR' } },
        },
      ],
      wrote: [
        { table: 'orders', where: { id } },
        { table: 'order_items', where: { order_id: id, line_no: 2 } },
      ],
    });
  });

  it('adds no line and writes no event when the command fails inside its transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const rowBefore = await orderRow(order.order.id);
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () =>
        t.gql(AddOrderItem, { input: { orderId: order.order.id, productId: cable.id, quantity: 1 } }),
      ),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'addOrderItem', appended: [expect.objectContaining({ eventType: 'OrderItemAdded' })] },
    ]);
    expect(await orderRow(order.order.id)).toEqual(rowBefore);
  });
});

describe('updateOrderStatus', () => {
  it('moves the status and writes one OrderStatusChanged outbox row in one transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const id = order.order.id;
    const end = await outboxEnd(t.pool);
    const res = await t.gql(
      UpdateOrderStatus,
      { input: { orderId: id, status: 'CONFIRMED', expectedVersion: 1 } },
      t.supportToken,
    );
    const result = res.data?.updateOrderStatus;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    expect(result).toMatchObject({ version: 2, order: { id, status: 'CONFIRMED', version: 2 } });
    expect(await orderRow(id)).toMatchObject({ status: 'CONFIRMED', version: 2 });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderStatusChanged',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 2,
          actor: 'test-support',
          payload: { orderId: id, from: 'PENDING', to: 'CONFIRMED' },
        },
      ],
      wrote: [{ table: 'orders', where: { id } }],
    });
  });

  it('walks an order from PENDING to DELIVERED, one event and one version per step', async () => {
    const order = await givenOrderIn('PENDING');
    const id = order.order.id;
    const steps = [
      ['PENDING', 'CONFIRMED'],
      ['CONFIRMED', 'SHIPPED'],
      ['SHIPPED', 'DELIVERED'],
    ] as const;
    let version = 1;
    for (const [from, to] of steps) {
      const end = await outboxEnd(t.pool);
      const res = await t.gql(UpdateOrderStatus, { input: { orderId: id, status: to, expectedVersion: version } });
      const result = res.data?.updateOrderStatus;
      if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
      version += 1;
      expect(result.order).toEqual({ id, status: to, version });
      await expectOneTransaction(t.pool, {
        end,
        position: result.position,
        events: [
          {
            eventType: 'OrderStatusChanged',
            aggregateType: 'Order',
            aggregateId: id,
            aggregateVersion: version,
            actor: 'test-admin',
            payload: { orderId: id, from, to },
          },
        ],
        wrote: [{ table: 'orders', where: { id } }],
      });
    }
  });

  it('emits OrderCancelled, not OrderStatusChanged, when the new status is CANCELLED', async () => {
    const order = await givenOrderIn('CONFIRMED');
    const id = order.order.id;
    const end = await outboxEnd(t.pool);
    const res = await t.gql(UpdateOrderStatus, { input: { orderId: id, status: 'CANCELLED', expectedVersion: 2 } });
    const result = res.data?.updateOrderStatus;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    expect(result.order).toEqual({ id, status: 'CANCELLED', version: 3 });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderCancelled',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 3,
          actor: 'test-admin',
          payload: { orderId: id, from: 'CONFIRMED' },
        },
      ],
      wrote: [{ table: 'orders', where: { id } }],
    });
  });

  it('keeps the old status and writes no event when the command fails inside its transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const rowBefore = await orderRow(order.order.id);
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () =>
        t.gql(UpdateOrderStatus, { input: { orderId: order.order.id, status: 'CONFIRMED' } }),
      ),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'updateOrderStatus', appended: [expect.objectContaining({ eventType: 'OrderStatusChanged' })] },
    ]);
    expect(await orderRow(order.order.id)).toEqual(rowBefore);
  });
});

describe('cancelOrder', () => {
  it('cancels a PENDING order and writes one OrderCancelled outbox row in one transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const id = order.order.id;
    const end = await outboxEnd(t.pool);
    const res = await t.gql(
      CancelOrder,
      { input: { orderId: id, expectedVersion: 1 } },
      await t.customerToken(customer.id),
    );
    const result = res.data?.cancelOrder;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    expect(result).toMatchObject({ version: 2, order: { id, status: 'CANCELLED', version: 2 } });
    expect(await orderRow(id)).toMatchObject({ status: 'CANCELLED', version: 2 });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderCancelled',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 2,
          actor: `customer:${customer.id}`,
          payload: { orderId: id, from: 'PENDING' },
        },
      ],
      wrote: [{ table: 'orders', where: { id } }],
    });
  });

  it('cancels a CONFIRMED order', async () => {
    const order = await givenOrderIn('CONFIRMED');
    const id = order.order.id;
    const end = await outboxEnd(t.pool);
    const res = await t.gql(CancelOrder, { input: { orderId: id } });
    const result = res.data?.cancelOrder;
    if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
    expect(result.order).toEqual({ id, status: 'CANCELLED', version: 3 });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'OrderCancelled',
          aggregateType: 'Order',
          aggregateId: id,
          aggregateVersion: 3,
          actor: 'test-admin',
          payload: { orderId: id, from: 'CONFIRMED' },
        },
      ],
      wrote: [{ table: 'orders', where: { id } }],
    });
  });

  it('leaves the order open and writes no event when the command fails inside its transaction', async () => {
    const order = await givenOrderIn('PENDING');
    const rowBefore = await orderRow(order.order.id);
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () => t.gql(CancelOrder, { input: { orderId: order.order.id } })),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'cancelOrder', appended: [expect.objectContaining({ eventType: 'OrderCancelled' })] },
    ]);
    expect(await orderRow(order.order.id)).toEqual(rowBefore);
  });
});
