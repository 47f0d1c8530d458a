// order_search: a tsvector document per order (customer name, SKUs, product names; a
// generated column, so every update re-indexes), facet columns, and autocomplete terms.
//
// Set-based (projections/setBased.ts): `evolve` says what each order event does to a
// row, the terms are child rows; each order's document is computed once per batch.

import type { Sql } from '../../db/sql.ts';
import { type OrderEvent, unitsOf } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import type { CustomerCopies } from '../../projections/customers.ts';
import type { Projection } from '../../projections/projection.ts';
import { applySetBased, type SetBasedModel, skipSetBased } from '../../projections/setBased.ts';
import type { Table } from '../../projections/tables.ts';
import { definition } from './definition.ts';
import { checks } from './verify.ts';

const NAME = 'order_search';

export interface SearchRow {
  orderId: string;
  customerId: string;
  customerName: string | null;
  status: string;
  totalCents: number;
  itemCount: number;
  createdAt: string;
  skus: string[];
  productNames: string[];
  version: number;
}

// The document (a generated tsvector column) follows the row.
const TABLE: Table<SearchRow> = {
  name: NAME,
  key: 'orderId',
  columns: [
    { field: 'orderId', column: 'order_id', type: 'uuid', fixed: true },
    { field: 'customerId', column: 'customer_id', type: 'uuid', fixed: true },
    // Set at creation, rewritten per customer (rewriteCustomers), never by an order event.
    { field: 'customerName', column: 'customer_name', type: 'text', fixed: true },
    { field: 'status', column: 'status', type: 'text' },
    { field: 'totalCents', column: 'total_cents', type: 'bigint' },
    { field: 'itemCount', column: 'item_count', type: 'int' },
    { field: 'createdAt', column: 'created_at', type: 'timestamptz', fixed: true },
    { field: 'skus', column: 'skus', type: 'text[]' },
    { field: 'productNames', column: 'product_names', type: 'text[]' },
    { field: 'version', column: 'version', type: 'int' },
  ],
};

interface Term {
  orderId: string;
  kind: 'customer' | 'product' | 'sku';
  term: string;
}

const TERMS: Table<Term> = {
  name: 'order_search_terms',
  key: 'orderId',
  conflict: ['order_id', 'kind', 'term'],
  columns: [
    { field: 'orderId', column: 'order_id', type: 'uuid' },
    { field: 'kind', column: 'kind', type: 'text' },
    { field: 'term', column: 'term', type: 'text' },
  ],
};

/** Autocomplete terms an applied event adds: the customer's name at creation, each line's product and SKU. */
function termsOf(row: SearchRow, { event }: StoredEvent<OrderEvent>): Term[] {
  const lines =
    event.type === 'OrderCreated' ? event.data.items : event.type === 'OrderItemAdded' ? [event.data.item] : [];
  const terms: Term[] = [];
  if (event.type === 'OrderCreated' && row.customerName !== null) {
    terms.push({ orderId: row.orderId, kind: 'customer', term: row.customerName });
  }
  for (const l of lines) terms.push({ orderId: row.orderId, kind: 'product', term: l.productName });
  for (const l of lines) terms.push({ orderId: row.orderId, kind: 'sku', term: l.sku });
  return terms;
}

export const orderSearchModel: SetBasedModel<SearchRow> = {
  name: NAME,
  table: TABLE,
  evolve(row, e, { customers }) {
    const { event } = e;
    switch (event.type) {
      case 'OrderCreated': {
        const { data } = event;
        return {
          orderId: data.orderId,
          customerId: data.customerId,
          customerName: customers.facts(data.customerId).name,
          status: 'PENDING',
          totalCents: data.total.amountCents,
          itemCount: unitsOf(data.items),
          createdAt: data.createdAt,
          skus: data.items.map((l) => l.sku),
          productNames: data.items.map((l) => l.productName),
          version: e.aggregateVersion,
        };
      }
      case 'OrderItemAdded': {
        if (!row) return undefined;
        const { item } = event.data;
        return {
          ...row,
          totalCents: event.data.total.amountCents,
          itemCount: row.itemCount + item.quantity,
          skus: [...row.skus, item.sku],
          productNames: [...row.productNames, item.productName],
        };
      }
      case 'OrderStatusChanged':
      case 'OrderCancelled':
        return row && { ...row, status: event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to };
    }
  },
  children: [{ table: TERMS, of: termsOf }],
  afterRows: (sql, { customers }) => rewriteCustomers(sql, customers),
};

/**
 * Renamed and erased customers: every order of theirs takes the new name, and its
 * customer terms are rewritten; an erased customer leaves none, so autocomplete cannot
 * surface the name.
 */
async function rewriteCustomers(sql: Sql, customers: CustomerCopies): Promise<void> {
  const rewrites = customers.rewritten;
  if (!rewrites.length) return;
  const params = [rewrites.map((r) => r.customerId), rewrites.map((r) => r.name)];
  await sql.execute(
    `UPDATE order_search AS s SET customer_name = c.name
       FROM unnest($1::uuid[], $2::text[]) AS c(customer_id, name)
      WHERE s.customer_id = c.customer_id`,
    params,
  );
  await sql.execute(
    `DELETE FROM order_search_terms AS t
      USING order_search AS s
      WHERE t.kind = 'customer' AND t.order_id = s.order_id AND s.customer_id = ANY($1::uuid[])`,
    [params[0]],
  );
  await sql.execute(
    `INSERT INTO order_search_terms (order_id, kind, term)
     SELECT s.order_id, 'customer', c.name
       FROM order_search AS s JOIN unnest($1::uuid[], $2::text[]) AS c(customer_id, name) ON s.customer_id = c.customer_id
      WHERE c.name IS NOT NULL
     ON CONFLICT DO NOTHING`,
    params,
  );
}

export const orderSearchProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_search', 'order_search_terms'],
  definition,
  checks,
  apply: (sql, events) => applySetBased(sql, orderSearchModel, events),
  skip: (sql, events) => skipSetBased(sql, orderSearchModel, events),
};
