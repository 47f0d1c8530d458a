// Every read model's evolve, and the skeleton's guards, in memory: given the rows and
// events of a batch, then the rows, what was created or changed, and the child rows.
// No database (projections/setBased.ts evolveBatch; customer copies start empty).
import { describe, expect, it } from 'vitest';
import type { Sql } from '../../src/db/sql.ts';
import type { OrderLine } from '../../src/events/order.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { CustomerCopies } from '../../src/projections/customers.ts';
import { evolveBatch, type SetBasedModel, type VersionedRow } from '../../src/projections/setBased.ts';
import { customerOrderHistoryModel } from '../../src/readModels/customerOrderHistory/projection.ts';
import { orderAnalyticsModel } from '../../src/readModels/orderAnalytics/projection.ts';
import { orderListViewModel } from '../../src/readModels/orderListView/projection.ts';
import { orderSearchModel } from '../../src/readModels/orderSearch/projection.ts';
import { CUSTOMER, customerEvents, line, ORDER, orderEvents } from '../support/events.ts';

const noDatabase: Sql = {
  query: () => Promise.reject(new Error('no database in unit tests')),
  execute: () => Promise.reject(new Error('no database in unit tests')),
};

/** The batch `events` over `rows`, as the skeleton evolves it. */
async function when<Row extends VersionedRow>(model: SetBasedModel<Row>, rows: Row[], events: StoredEvent[]) {
  const customers = await CustomerCopies.load(noDatabase, model.name, []);
  const loaded = new Map(rows.map((r) => [ORDER, r]));
  const batch = evolveBatch(model, loaded, events, customers);
  return { row: batch.rows.get(ORDER), ...batch };
}

const created = orderEvents.created([line(1, 2, 300), line(2, 1, 150)]);
const customer = customerEvents.created('Ada Lovelace', 'ada@example.com');

/** An event's line as order_list_view_items keeps it: the price in cents. */
const listLine = ({ unitPrice, ...rest }: OrderLine) => ({ ...rest, unitPriceCents: unitPrice.amountCents });

describe('the set-based skeleton', () => {
  it('creates a row only where none is, and applies any other event only on the next version', async () => {
    const first = await when(orderListViewModel, [], [created]);
    expect([...first.created]).toEqual([ORDER]);
    const again = await when(orderListViewModel, [first.row!], [created]);
    expect(again.created.size + again.changed.size).toBe(0);
    expect(again.row).toBe(first.row);
    const skipped = orderEvents.itemAdded(3, line(3), 1000);
    const gap = await when(orderListViewModel, [first.row!], [skipped]);
    expect(gap.changed.size).toBe(0);
    expect((await when(orderListViewModel, [], [orderEvents.statusChanged(2, 'PENDING', 'CONFIRMED')])).row).toBe(
      undefined,
    );
  });

  it('sets each row version to its event and keeps the position where the table has one', async () => {
    const confirm = orderEvents.statusChanged(2, 'PENDING', 'CONFIRMED');
    const { row } = await when(orderListViewModel, [], [created, confirm]);
    expect(row).toMatchObject({ version: 2, position: confirm.position });
    expect((await when(customerOrderHistoryModel, [], [created, confirm])).row).not.toHaveProperty('position');
  });

  it('applies customer events first in batch order, so an order created after them carries the name', async () => {
    const { row } = await when(orderListViewModel, [], [customer, created]);
    expect(row).toMatchObject({ customerName: 'Ada Lovelace', customerEmail: 'ada@example.com' });
    const before = await when(orderListViewModel, [], [created, customer]);
    expect(before.row).toMatchObject({ customerName: null, customerEmail: null });
  });
});

describe('order_list_view', () => {
  it('OrderCreated: the order with totals, status PENDING, its lines as child rows', async () => {
    const { row, children } = await when(orderListViewModel, [], [created]);
    expect(row).toEqual({
      orderId: ORDER,
      customerId: CUSTOMER,
      customerName: null,
      customerEmail: null,
      status: 'PENDING',
      totalCents: 750,
      itemCount: 3,
      lineCount: 2,
      version: 1,
      createdAt: '2026-11-30T23:59:59.999Z',
      updatedAt: '2026-11-30T23:59:59.999Z',
      position: created.position,
      currency: 'EUR',
    });
    expect(children[0]).toEqual([
      { ...listLine(line(1, 2, 300)), orderId: ORDER },
      { ...listLine(line(2, 1, 150)), orderId: ORDER },
    ]);
  });

  it('OrderItemAdded: total, units and lines grow, the line is a child row', async () => {
    const added = orderEvents.itemAdded(2, line(3, 4, 100), 1150);
    const { row, children } = await when(orderListViewModel, [], [created, added]);
    expect(row).toMatchObject({
      totalCents: 1150,
      itemCount: 7,
      lineCount: 3,
      updatedAt: added.occurredAt.toISOString(),
    });
    expect(children[0]).toHaveLength(3);
  });

  it('OrderStatusChanged and OrderCancelled: the status', async () => {
    const confirmed = await when(
      orderListViewModel,
      [],
      [created, orderEvents.statusChanged(2, 'PENDING', 'CONFIRMED')],
    );
    expect(confirmed.row?.status).toBe('CONFIRMED');
    const cancelled = await when(orderListViewModel, [], [created, orderEvents.cancelled(2)]);
    expect(cancelled.row?.status).toBe('CANCELLED');
  });
});

describe('customer_order_history', () => {
  it('OrderCreated: a summary with the copied name, and a preview of at most three lines', async () => {
    const big = orderEvents.created([line(1), line(2), line(3), line(4)]);
    const { row } = await when(customerOrderHistoryModel, [], [customer, big]);
    expect(row?.summary).toEqual({
      orderId: ORDER,
      status: 'PENDING',
      totalCents: 1000,
      itemCount: 4,
      lineCount: 4,
      updatedAt: '2026-11-30T23:59:59.999Z',
      customerName: 'Ada Lovelace',
    });
    expect(row?.itemsPreview.map((l) => (l as { lineNo: number }).lineNo)).toEqual([1, 2, 3]);
  });

  it('OrderItemAdded: the summary grows; the preview takes the line only while it has fewer than three', async () => {
    const added = orderEvents.itemAdded(2, line(3, 2, 100), 950);
    const { row } = await when(customerOrderHistoryModel, [], [created, added]);
    expect(row?.summary).toMatchObject({ totalCents: 950, itemCount: 5, lineCount: 3 });
    expect(row?.itemsPreview).toHaveLength(3);
    const fourth = await when(customerOrderHistoryModel, [row!], [orderEvents.itemAdded(3, line(4), 1200)]);
    expect(fourth.row?.itemsPreview).toHaveLength(3);
    expect(fourth.row?.summary).toMatchObject({ lineCount: 4 });
  });

  it('OrderStatusChanged and OrderCancelled: the summary status', async () => {
    const shipped = await when(
      customerOrderHistoryModel,
      [],
      [
        created,
        orderEvents.statusChanged(2, 'PENDING', 'CONFIRMED'),
        orderEvents.statusChanged(3, 'CONFIRMED', 'SHIPPED'),
      ],
    );
    expect(shipped.row?.summary.status).toBe('SHIPPED');
    const cancelled = await when(customerOrderHistoryModel, [], [created, orderEvents.cancelled(2)]);
    expect(cancelled.row?.summary.status).toBe('CANCELLED');
  });
});

describe('order_search', () => {
  it('OrderCreated: facets, SKUs and product names; terms for the customer, each product and SKU', async () => {
    const { row, children } = await when(orderSearchModel, [], [customer, created]);
    expect(row).toMatchObject({ customerName: 'Ada Lovelace', status: 'PENDING', totalCents: 750, itemCount: 3 });
    expect(row?.skus).toEqual(['SKU-1', 'SKU-2']);
    expect(row?.productNames).toEqual(['Part 1', 'Part 2']);
    expect(children[0]).toEqual([
      { orderId: ORDER, kind: 'customer', term: 'Ada Lovelace' },
      { orderId: ORDER, kind: 'product', term: 'Part 1' },
      { orderId: ORDER, kind: 'product', term: 'Part 2' },
      { orderId: ORDER, kind: 'sku', term: 'SKU-1' },
      { orderId: ORDER, kind: 'sku', term: 'SKU-2' },
    ]);
  });

  it('OrderCreated without a known customer name adds no customer term', async () => {
    const { children } = await when(orderSearchModel, [], [created]);
    expect(children[0]!.filter((t) => (t as { kind: string }).kind === 'customer')).toEqual([]);
  });

  it('OrderItemAdded: the line joins the document and the terms', async () => {
    const { row, children } = await when(orderSearchModel, [], [created, orderEvents.itemAdded(2, line(7), 1000)]);
    expect(row).toMatchObject({ totalCents: 1000, itemCount: 4, skus: ['SKU-1', 'SKU-2', 'SKU-7'] });
    expect(children[0]!.slice(-2)).toEqual([
      { orderId: ORDER, kind: 'product', term: 'Part 7' },
      { orderId: ORDER, kind: 'sku', term: 'SKU-7' },
    ]);
  });

  it('OrderStatusChanged and OrderCancelled: the status facet', async () => {
    expect(
      (await when(orderSearchModel, [], [created, orderEvents.statusChanged(2, 'PENDING', 'CONFIRMED')])).row?.status,
    ).toBe('CONFIRMED');
    expect((await when(orderSearchModel, [], [created, orderEvents.cancelled(2)])).row?.status).toBe('CANCELLED');
  });
});

describe('order_analytics', () => {
  it('OrderCreated: the UTC day of creation, status, total and units', async () => {
    const { row } = await when(orderAnalyticsModel, [], [created]);
    expect(row).toEqual({
      orderId: ORDER,
      day: '2026-11-30',
      status: 'PENDING',
      totalCents: 750,
      items: 3,
      version: 1,
    });
    const late = await when(orderAnalyticsModel, [], [orderEvents.created([line(1)], '2026-12-01T00:00:00.000Z')]);
    expect(late.row?.day).toBe('2026-12-01');
  });

  it('OrderItemAdded, OrderStatusChanged, OrderCancelled: total and units, then status; the day stays', async () => {
    const { row } = await when(
      orderAnalyticsModel,
      [],
      [created, orderEvents.itemAdded(2, line(3, 2, 50), 850), orderEvents.statusChanged(3, 'PENDING', 'CONFIRMED')],
    );
    expect(row).toMatchObject({ day: '2026-11-30', status: 'CONFIRMED', totalCents: 850, items: 5, version: 3 });
    expect((await when(orderAnalyticsModel, [], [created, orderEvents.cancelled(2)])).row?.status).toBe('CANCELLED');
  });

  it('keeps no customer copies: customer events do not touch it', async () => {
    const { created: made } = await when(orderAnalyticsModel, [], [customer]);
    expect(made.size).toBe(0);
  });
});
