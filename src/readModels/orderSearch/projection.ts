// order_search: a tsvector document per order (customer name, SKUs, product names; a
// generated column, so every update re-indexes), facet columns, and autocomplete terms.
//
// Set-based like order_list_view (see there): the batch's rows are loaded, changed in
// memory event by event with the same guards, and written with a few statements, so
// each order's document is computed once per batch.

import type { Sql } from '../../db/sql.ts';
import type { OrderEvent } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import { CustomerCopies, idKey, isCustomerEvent } from '../../projections/customers.ts';
import type { Projection } from '../../projections/projection.ts';
import { checks } from './verify.ts';

const NAME = 'order_search';

interface SearchRow {
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
  isNew: boolean;
  changed: boolean;
}

interface Term {
  orderId: string;
  kind: 'customer' | 'product' | 'sku';
  term: string;
}

async function loadRows(sql: Sql, orderIds: string[]): Promise<Map<string, SearchRow>> {
  const rows = new Map<string, SearchRow>();
  if (!orderIds.length) return rows;
  const found = await sql.query<{
    order_id: string;
    customer_id: string;
    status: string;
    total_cents: number;
    item_count: number;
    skus: string;
    product_names: string;
    version: number;
  }>(
    `SELECT order_id::text AS order_id, customer_id::text AS customer_id, status, total_cents::float8 AS total_cents,
            item_count, array_to_json(skus)::text AS skus, array_to_json(product_names)::text AS product_names, version
       FROM order_search WHERE order_id = ANY($1::uuid[])
      ORDER BY order_id FOR UPDATE`,
    [orderIds],
  );
  for (const r of found) {
    rows.set(idKey(r.order_id), {
      orderId: r.order_id,
      customerId: r.customer_id,
      customerName: null,
      status: r.status,
      totalCents: Number(r.total_cents),
      itemCount: Number(r.item_count),
      createdAt: '',
      skus: JSON.parse(r.skus),
      productNames: JSON.parse(r.product_names),
      version: Number(r.version),
      isNew: false,
      changed: false,
    });
  }
  return rows;
}

function applyOrderEvent(
  rows: Map<string, SearchRow>,
  terms: Term[],
  customers: CustomerCopies,
  e: StoredEvent<OrderEvent>,
): void {
  const { event } = e;
  const id = idKey(event.data.orderId);
  const row = rows.get(id);
  switch (event.type) {
    case 'OrderCreated': {
      if (row) return;
      const { data } = event;
      const customerName = customers.facts(data.customerId).name;
      rows.set(id, {
        orderId: data.orderId,
        customerId: data.customerId,
        customerName,
        status: 'PENDING',
        totalCents: data.totalCents,
        itemCount: data.items.reduce((n, l) => n + l.quantity, 0),
        createdAt: data.createdAt,
        skus: data.items.map((l) => l.sku),
        productNames: data.items.map((l) => l.productName),
        version: e.aggregateVersion,
        isNew: true,
        changed: true,
      });
      if (customerName !== null) terms.push({ orderId: data.orderId, kind: 'customer', term: customerName });
      for (const l of data.items) terms.push({ orderId: data.orderId, kind: 'product', term: l.productName });
      for (const l of data.items) terms.push({ orderId: data.orderId, kind: 'sku', term: l.sku });
      return;
    }
    case 'OrderItemAdded': {
      if (!row || row.version !== e.aggregateVersion - 1) return;
      const { item } = event.data;
      row.totalCents = event.data.totalCents;
      row.itemCount += item.quantity;
      row.skus = [...row.skus, item.sku];
      row.productNames = [...row.productNames, item.productName];
      row.version = e.aggregateVersion;
      row.changed = true;
      terms.push({ orderId: row.orderId, kind: 'product', term: item.productName });
      terms.push({ orderId: row.orderId, kind: 'sku', term: item.sku });
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      if (!row || row.version !== e.aggregateVersion - 1) return;
      row.status = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      row.version = e.aggregateVersion;
      row.changed = true;
      return;
    }
  }
}

async function insertRows(sql: Sql, rows: SearchRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `INSERT INTO order_search (order_id, customer_id, customer_name, status, total_cents, item_count, created_at,
                               skus, product_names, version)
     SELECT r.order_id, r.customer_id, r.customer_name, r.status, r.total_cents, r.item_count, r.created_at,
            ARRAY(SELECT jsonb_array_elements_text(r.skus::jsonb)),
            ARRAY(SELECT jsonb_array_elements_text(r.product_names::jsonb)), r.version
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::timestamptz[],
                   $8::text[], $9::text[], $10::int[])
            AS r(order_id, customer_id, customer_name, status, total_cents, item_count, created_at, skus,
                 product_names, version)
     ON CONFLICT (order_id) DO NOTHING`,
    [
      rows.map((r) => r.orderId),
      rows.map((r) => r.customerId),
      rows.map((r) => r.customerName),
      rows.map((r) => r.status),
      rows.map((r) => r.totalCents),
      rows.map((r) => r.itemCount),
      rows.map((r) => r.createdAt),
      rows.map((r) => JSON.stringify(r.skus)),
      rows.map((r) => JSON.stringify(r.productNames)),
      rows.map((r) => r.version),
    ],
  );
}

async function updateRows(sql: Sql, rows: SearchRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `UPDATE order_search AS s
        SET status = r.status, total_cents = r.total_cents, item_count = r.item_count,
            skus = ARRAY(SELECT jsonb_array_elements_text(r.skus::jsonb)),
            product_names = ARRAY(SELECT jsonb_array_elements_text(r.product_names::jsonb)), version = r.version
       FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::int[])
            AS r(order_id, status, total_cents, item_count, skus, product_names, version)
      WHERE s.order_id = r.order_id`,
    [
      rows.map((r) => r.orderId),
      rows.map((r) => r.status),
      rows.map((r) => r.totalCents),
      rows.map((r) => r.itemCount),
      rows.map((r) => JSON.stringify(r.skus)),
      rows.map((r) => JSON.stringify(r.productNames)),
      rows.map((r) => r.version),
    ],
  );
}

async function insertTerms(sql: Sql, terms: Term[]): Promise<void> {
  if (!terms.length) return;
  await sql.execute(
    `INSERT INTO order_search_terms (order_id, kind, term)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
     ON CONFLICT DO NOTHING`,
    [terms.map((t) => t.orderId), terms.map((t) => t.kind), terms.map((t) => t.term)],
  );
}

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
  checks,
  async apply(sql, events) {
    const customers = await CustomerCopies.load(sql, NAME, events);
    const orderEvents = events.filter((e): e is StoredEvent<OrderEvent> => e.aggregateType === 'Order');
    const rows = await loadRows(sql, [...new Set(orderEvents.map((e) => idKey(e.event.data.orderId)))]);
    const terms: Term[] = [];
    for (const e of events) {
      if (isCustomerEvent(e)) customers.apply(e);
      else if (e.aggregateType === 'Order') applyOrderEvent(rows, terms, customers, e as StoredEvent<OrderEvent>);
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
    await insertTerms(sql, terms);
    // After the orders: an order created earlier in the batch gets the new name too.
    await rewriteCustomers(sql, customers);
    await customers.save(sql);
  },
};
