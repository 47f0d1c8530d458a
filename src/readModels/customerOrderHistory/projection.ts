// customer_order_history: per customer, newest first; an order summary as JSON and a
// preview of its first three lines.
//
// Set-based like order_list_view (see there): the batch's rows are loaded, changed in
// memory event by event with the same guards, and written with a few statements.

import type { Sql } from '../../db/sql.ts';
import type { OrderEvent, OrderLine } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import { CustomerCopies, idKey, isCustomerEvent } from '../../projections/customers.ts';
import type { Projection } from '../../projections/projection.ts';
import { checks } from './verify.ts';

const NAME = 'customer_order_history';
export const PREVIEW_LINES = 3;

function preview(l: OrderLine) {
  return {
    lineNo: l.lineNo,
    productId: l.productId,
    sku: l.sku,
    productName: l.productName,
    quantity: l.quantity,
    unitPriceCents: l.unitPriceCents,
  };
}

interface HistoryRow {
  customerId: string;
  orderId: string;
  createdAt: string;
  summary: Record<string, unknown>;
  itemsPreview: unknown[];
  version: number;
  isNew: boolean;
  changed: boolean;
}

async function loadRows(sql: Sql, orderIds: string[]): Promise<Map<string, HistoryRow>> {
  const rows = new Map<string, HistoryRow>();
  if (!orderIds.length) return rows;
  const found = await sql.query<{
    customer_id: string;
    order_id: string;
    summary: string;
    items_preview: string;
    version: number;
  }>(
    `SELECT customer_id::text AS customer_id, order_id::text AS order_id, summary::text AS summary,
            items_preview::text AS items_preview, version
       FROM customer_order_history WHERE order_id = ANY($1::uuid[])
      ORDER BY customer_id, order_id FOR UPDATE`,
    [orderIds],
  );
  for (const r of found) {
    rows.set(idKey(r.order_id), {
      customerId: r.customer_id,
      orderId: r.order_id,
      createdAt: '',
      summary: JSON.parse(r.summary),
      itemsPreview: JSON.parse(r.items_preview),
      version: Number(r.version),
      isNew: false,
      changed: false,
    });
  }
  return rows;
}

function applyOrderEvent(rows: Map<string, HistoryRow>, customers: CustomerCopies, e: StoredEvent<OrderEvent>): void {
  const { event } = e;
  const id = idKey(event.data.orderId);
  const row = rows.get(id);
  const at = e.occurredAt.toISOString();
  switch (event.type) {
    case 'OrderCreated': {
      if (row) return;
      const { data } = event;
      rows.set(id, {
        customerId: data.customerId,
        orderId: data.orderId,
        createdAt: data.createdAt,
        summary: {
          orderId: data.orderId,
          status: 'PENDING',
          totalCents: data.totalCents,
          itemCount: data.items.reduce((n, l) => n + l.quantity, 0),
          lineCount: data.items.length,
          updatedAt: data.createdAt,
          // The customer's name comes from this projection's own copy.
          customerName: customers.facts(data.customerId).name,
        },
        itemsPreview: data.items.slice(0, PREVIEW_LINES).map(preview),
        version: e.aggregateVersion,
        isNew: true,
        changed: true,
      });
      return;
    }
    case 'OrderItemAdded': {
      if (!row || row.version !== e.aggregateVersion - 1) return;
      const { item } = event.data;
      row.summary = {
        ...row.summary,
        totalCents: event.data.totalCents,
        itemCount: Number(row.summary.itemCount) + item.quantity,
        lineCount: Number(row.summary.lineCount) + 1,
        updatedAt: at,
      };
      if (row.itemsPreview.length < PREVIEW_LINES) row.itemsPreview = [...row.itemsPreview, preview(item)];
      row.version = e.aggregateVersion;
      row.changed = true;
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      if (!row || row.version !== e.aggregateVersion - 1) return;
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      row.summary = { ...row.summary, status: to, updatedAt: at };
      row.version = e.aggregateVersion;
      row.changed = true;
      return;
    }
  }
}

async function insertRows(sql: Sql, rows: HistoryRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `INSERT INTO customer_order_history (customer_id, order_id, created_at, summary, items_preview, version)
     SELECT r.customer_id, r.order_id, r.created_at, r.summary::jsonb, r.items_preview::jsonb, r.version
       FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::int[])
            AS r(customer_id, order_id, created_at, summary, items_preview, version)
     ON CONFLICT (customer_id, order_id) DO NOTHING`,
    [
      rows.map((r) => r.customerId),
      rows.map((r) => r.orderId),
      rows.map((r) => r.createdAt),
      rows.map((r) => JSON.stringify(r.summary)),
      rows.map((r) => JSON.stringify(r.itemsPreview)),
      rows.map((r) => r.version),
    ],
  );
}

async function updateRows(sql: Sql, rows: HistoryRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `UPDATE customer_order_history AS h
        SET summary = r.summary::jsonb, items_preview = r.items_preview::jsonb, version = r.version
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[])
            AS r(customer_id, order_id, summary, items_preview, version)
      WHERE h.customer_id = r.customer_id AND h.order_id = r.order_id`,
    [
      rows.map((r) => r.customerId),
      rows.map((r) => r.orderId),
      rows.map((r) => JSON.stringify(r.summary)),
      rows.map((r) => JSON.stringify(r.itemsPreview)),
      rows.map((r) => r.version),
    ],
  );
}

/** Renamed and erased customers: every order of theirs shows the new name (none once erased). */
async function rewriteCustomers(sql: Sql, customers: CustomerCopies): Promise<void> {
  const rewrites = customers.rewritten;
  if (!rewrites.length) return;
  await sql.execute(
    `UPDATE customer_order_history AS h SET summary = h.summary || jsonb_build_object('customerName', c.name)
       FROM unnest($1::uuid[], $2::text[]) AS c(customer_id, name)
      WHERE h.customer_id = c.customer_id`,
    [rewrites.map((r) => r.customerId), rewrites.map((r) => r.name)],
  );
}

export const customerOrderHistoryProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['customer_order_history'],
  checks,
  async apply(sql, events) {
    const customers = await CustomerCopies.load(sql, NAME, events);
    const orderEvents = events.filter((e): e is StoredEvent<OrderEvent> => e.aggregateType === 'Order');
    const rows = await loadRows(sql, [...new Set(orderEvents.map((e) => idKey(e.event.data.orderId)))]);
    for (const e of events) {
      if (isCustomerEvent(e)) customers.apply(e);
      else if (e.aggregateType === 'Order') applyOrderEvent(rows, customers, e as StoredEvent<OrderEvent>);
    }
    const changed = [...rows.values()].filter((r) => r.changed);
    await insertRows(
      sql,
      changed.filter((r) => r.isNew),
    );
    await updateRows(
      sql,
      changed.filter((r) => !r.isNew),
    );
    // After the orders: a name copied into an order earlier in the batch is replaced too.
    await rewriteCustomers(sql, customers);
    await customers.save(sql);
  },
};
