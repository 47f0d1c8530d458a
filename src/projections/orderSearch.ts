// order_search: a tsvector document per order (customer name, SKUs, product names; a
// generated column, so every update re-indexes), facet columns, and autocomplete terms.
import type { StoredEvent } from '../outbox/append.ts';
import type { OrderEvent } from '../write/order/events.ts';
import { applyCustomerEvent, isCustomerEvent } from './customers.ts';
import type { Projection } from './projection.ts';
import type { Sql } from './sql.ts';

const NAME = 'order_search';

async function applyOrderEvent(sql: Sql, e: StoredEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  switch (event.type) {
    case 'OrderCreated': {
      const { data } = event;
      const kinds = [...data.items.map(() => 'product'), ...data.items.map(() => 'sku')];
      const terms = [...data.items.map((l) => l.productName), ...data.items.map((l) => l.sku)];
      // One statement: customer facts, the search row, and its autocomplete terms.
      await sql.execute(
        `WITH inserted AS (
           INSERT INTO order_search (order_id, customer_id, customer_name, status, total_cents, item_count, created_at,
                                     skus, product_names, version)
           SELECT $1::uuid, $2::uuid,
                  (SELECT name FROM projection_customers WHERE projection = '${NAME}' AND customer_id = $2::uuid),
                  'PENDING', $3::bigint, $4::int, $5::timestamptz, $6::text[], $7::text[], $8::int
           ON CONFLICT (order_id) DO NOTHING
           RETURNING order_id, customer_name
         )
         INSERT INTO order_search_terms (order_id, kind, term)
         SELECT i.order_id, t.kind, t.term
           FROM inserted i
           CROSS JOIN LATERAL (
             SELECT 'customer', i.customer_name WHERE i.customer_name IS NOT NULL
             UNION ALL SELECT * FROM unnest($9::text[], $10::text[])
           ) AS t(kind, term)
         ON CONFLICT DO NOTHING`,
        [
          data.orderId,
          data.customerId,
          data.totalCents,
          data.items.reduce((n, l) => n + l.quantity, 0),
          data.createdAt,
          data.items.map((l) => l.sku),
          data.items.map((l) => l.productName),
          e.aggregateVersion,
          kinds,
          terms,
        ],
      );
      return;
    }
    case 'OrderItemAdded': {
      const { item } = event.data;
      await sql.execute(
        `WITH updated AS (
           UPDATE order_search
              SET total_cents = $2::bigint, item_count = item_count + $3::int, skus = array_append(skus, $4::text),
                  product_names = array_append(product_names, $5::text), version = $6::int
            WHERE order_id = $1::uuid AND version = $6::int - 1
           RETURNING order_id
         )
         INSERT INTO order_search_terms (order_id, kind, term)
         SELECT u.order_id, t.kind, t.term FROM updated u, (VALUES ('product', $5::text), ('sku', $4::text)) AS t(kind, term)
         ON CONFLICT DO NOTHING`,
        [event.data.orderId, event.data.totalCents, item.quantity, item.sku, item.productName, e.aggregateVersion],
      );
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      await sql.execute(
        'UPDATE order_search SET status = $2, version = $3::int WHERE order_id = $1::uuid AND version < $3::int',
        [event.data.orderId, to, e.aggregateVersion],
      );
      return;
    }
  }
}

export const orderSearchProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_search', 'order_search_terms'],
  async apply(sql, events) {
    for (const e of events) {
      if (isCustomerEvent(e)) {
        if (!(await applyCustomerEvent(sql, NAME, e))) continue;
        if (e.event.type === 'CustomerRenamed' || e.event.type === 'CustomerErased') {
          const { customerId } = e.event.data;
          const name = e.event.type === 'CustomerRenamed' ? e.event.data.name : null;
          await sql.execute('UPDATE order_search SET customer_name = $2 WHERE customer_id = $1::uuid', [
            customerId,
            name,
          ]);
          // Customer terms are rewritten for each of the customer's orders; an erased
          // customer leaves none, so autocomplete cannot surface the name.
          await sql.execute(
            `DELETE FROM order_search_terms
              WHERE kind = 'customer' AND order_id IN (SELECT order_id FROM order_search WHERE customer_id = $1::uuid)`,
            [customerId],
          );
          if (name) {
            await sql.execute(
              `INSERT INTO order_search_terms (order_id, kind, term)
               SELECT order_id, 'customer', $2 FROM order_search WHERE customer_id = $1::uuid
               ON CONFLICT DO NOTHING`,
              [customerId, name],
            );
          }
        }
      } else if (e.aggregateType === 'Order') {
        await applyOrderEvent(sql, e as StoredEvent<OrderEvent>);
      }
    }
    return [];
  },
};
