// order_list_view's tables, described once: the projection loads, inserts and updates
// rows by these column lists (projections/setBased.ts) and publishes its changes with them.
import type { OrderLine } from '../../events/order.ts';
import type { Position } from '../../outbox/position.ts';
import type { Table } from '../../projections/tables.ts';

/** A row of order_list_view in memory (timestamps as ISO 8601 text). */
export interface ListRow {
  orderId: string;
  customerId: string;
  customerName: string | null;
  customerEmail: string | null;
  status: string;
  totalCents: number;
  itemCount: number;
  lineCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  position: Position;
  /** The currency of the order's money (version 2; absent from rows of a version 1 table). */
  currency?: string;
}

export const LIST_TABLE: Table<ListRow> = {
  name: 'order_list_view',
  key: 'orderId',
  columns: [
    { field: 'orderId', column: 'order_id', type: 'uuid', fixed: true },
    { field: 'customerId', column: 'customer_id', type: 'uuid', fixed: true },
    // Customer copies: set at creation, rewritten per customer (rewriteCustomers), never by an order event.
    { field: 'customerName', column: 'customer_name', type: 'text', fixed: true },
    { field: 'customerEmail', column: 'customer_email', type: 'text', fixed: true },
    { field: 'status', column: 'status', type: 'text' },
    { field: 'totalCents', column: 'total_cents', type: 'bigint' },
    { field: 'itemCount', column: 'item_count', type: 'int' },
    { field: 'lineCount', column: 'line_count', type: 'int' },
    { field: 'version', column: 'version', type: 'int' },
    { field: 'createdAt', column: 'created_at', type: 'timestamptz', fixed: true },
    { field: 'updatedAt', column: 'updated_at', type: 'timestamptz' },
    { field: 'position', column: 'position', type: 'position' },
    // Version 2: the order's currency, from the money events carry since their version 2.
    { field: 'currency', column: 'currency', type: 'text', fixed: true, since: 2 },
  ],
};

/** A line of order_list_view_items: the line as events carry it, with its order. */
/** An order line as the read model keeps it: its price in cents (every price is in CURRENCY). */
export interface LineRow extends Omit<OrderLine, 'unitPrice'> {
  orderId: string;
  unitPriceCents: number;
}

export const LINES_TABLE: Table<LineRow> = {
  name: 'order_list_view_items',
  key: 'orderId',
  conflict: ['order_id', 'line_no'],
  columns: [
    { field: 'orderId', column: 'order_id', type: 'uuid' },
    { field: 'lineNo', column: 'line_no', type: 'int' },
    { field: 'productId', column: 'product_id', type: 'uuid' },
    { field: 'sku', column: 'sku', type: 'text' },
    { field: 'productName', column: 'product_name', type: 'text' },
    { field: 'quantity', column: 'quantity', type: 'int' },
    { field: 'unitPriceCents', column: 'unit_price_cents', type: 'int' },
  ],
};
