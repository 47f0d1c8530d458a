// customer_order_history: per customer, newest first; an order summary as JSON and a
// preview of its first three lines.
//
// Set-based (projections/setBased.ts): `evolve` says what each order event does to a row.

import type { Sql } from '../../db/sql.ts';
import { type OrderLine, unitsOf } from '../../events/order.ts';
import type { CustomerCopies } from '../../projections/customers.ts';
import type { Projection } from '../../projections/projection.ts';
import { applySetBased, type SetBasedModel, skipSetBased } from '../../projections/setBased.ts';
import type { Table } from '../../projections/tables.ts';
import { definition } from './definition.ts';
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
    unitPriceCents: l.unitPrice.amountCents,
  };
}

export interface HistoryRow {
  customerId: string;
  orderId: string;
  createdAt: string;
  summary: Record<string, unknown>;
  itemsPreview: unknown[];
  version: number;
}

const TABLE: Table<HistoryRow> = {
  name: NAME,
  key: 'orderId',
  conflict: ['customer_id', 'order_id'],
  lockOrder: ['customer_id', 'order_id'],
  columns: [
    { field: 'customerId', column: 'customer_id', type: 'uuid', fixed: true },
    { field: 'orderId', column: 'order_id', type: 'uuid', fixed: true },
    { field: 'createdAt', column: 'created_at', type: 'timestamptz', fixed: true },
    { field: 'summary', column: 'summary', type: 'jsonb' },
    { field: 'itemsPreview', column: 'items_preview', type: 'jsonb' },
    { field: 'version', column: 'version', type: 'int' },
  ],
};

export const customerOrderHistoryModel: SetBasedModel<HistoryRow> = {
  name: NAME,
  table: TABLE,
  evolve(row, e, { customers, at }) {
    const { event } = e;
    switch (event.type) {
      case 'OrderCreated': {
        const { data } = event;
        return {
          customerId: data.customerId,
          orderId: data.orderId,
          createdAt: data.createdAt,
          summary: {
            orderId: data.orderId,
            status: 'PENDING',
            totalCents: data.total.amountCents,
            itemCount: unitsOf(data.items),
            lineCount: data.items.length,
            updatedAt: data.createdAt,
            // The customer's name comes from this projection's own copy.
            customerName: customers.facts(data.customerId).name,
          },
          itemsPreview: data.items.slice(0, PREVIEW_LINES).map(preview),
          version: e.aggregateVersion,
        };
      }
      case 'OrderItemAdded': {
        if (!row) return undefined;
        const { item } = event.data;
        return {
          ...row,
          summary: {
            ...row.summary,
            totalCents: event.data.total.amountCents,
            itemCount: Number(row.summary.itemCount) + item.quantity,
            lineCount: Number(row.summary.lineCount) + 1,
            updatedAt: at,
          },
          itemsPreview:
            row.itemsPreview.length < PREVIEW_LINES ? [...row.itemsPreview, preview(item)] : row.itemsPreview,
        };
      }
      case 'OrderStatusChanged':
      case 'OrderCancelled': {
        const status = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
        return row && { ...row, summary: { ...row.summary, status, updatedAt: at } };
      }
    }
  },
  afterRows: (sql, { customers }) => rewriteCustomers(sql, customers),
};

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
  definition,
  checks,
  apply: (sql, events) => applySetBased(sql, customerOrderHistoryModel, events),
  skip: (sql, events) => skipSetBased(sql, customerOrderHistoryModel, events),
};
