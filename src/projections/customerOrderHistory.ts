// customer_order_history: per customer, newest first; an order summary as JSON and a
// preview of its first three lines.
import type { StoredEvent } from '../outbox/append.ts';
import type { OrderEvent, OrderLine } from '../write/order/events.ts';
import { applyCustomerEvent, isCustomerEvent } from './customers.ts';
import type { Projection } from './projection.ts';
import type { Sql } from './sql.ts';

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

async function applyOrderEvent(sql: Sql, e: StoredEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  const at = e.occurredAt.toISOString();
  switch (event.type) {
    case 'OrderCreated': {
      const { data } = event;
      const summary = {
        orderId: data.orderId,
        status: 'PENDING',
        totalCents: data.totalCents,
        itemCount: data.items.reduce((n, l) => n + l.quantity, 0),
        lineCount: data.items.length,
        updatedAt: data.createdAt,
      };
      // The customer's name comes from this projection's own copy, in the same statement.
      await sql.execute(
        `INSERT INTO customer_order_history (customer_id, order_id, created_at, summary, items_preview, version)
         SELECT $1::uuid, $2::uuid, $3::timestamptz,
                $4::jsonb || jsonb_build_object('customerName',
                  (SELECT name FROM projection_customers WHERE projection = '${NAME}' AND customer_id = $1::uuid)),
                $5::jsonb, $6::int
         ON CONFLICT (customer_id, order_id) DO NOTHING`,
        [
          data.customerId,
          data.orderId,
          data.createdAt,
          JSON.stringify(summary),
          JSON.stringify(data.items.slice(0, PREVIEW_LINES).map(preview)),
          e.aggregateVersion,
        ],
      );
      return;
    }
    case 'OrderItemAdded': {
      const { item } = event.data;
      await sql.execute(
        `UPDATE customer_order_history
            SET summary = summary || jsonb_build_object(
                  'totalCents', $2::bigint,
                  'itemCount', (summary->>'itemCount')::int + $3::int,
                  'lineCount', (summary->>'lineCount')::int + 1,
                  'updatedAt', $5::text),
                items_preview = CASE WHEN jsonb_array_length(items_preview) < ${PREVIEW_LINES}
                                     THEN items_preview || jsonb_build_array($6::jsonb) ELSE items_preview END,
                version = $4::int
          WHERE order_id = $1::uuid AND version = $4::int - 1`,
        [
          event.data.orderId,
          event.data.totalCents,
          item.quantity,
          e.aggregateVersion,
          at,
          JSON.stringify(preview(item)),
        ],
      );
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      await sql.execute(
        `UPDATE customer_order_history
            SET summary = summary || jsonb_build_object('status', $2::text, 'updatedAt', $4::text), version = $3::int
          WHERE order_id = $1::uuid AND version < $3::int`,
        [event.data.orderId, to, e.aggregateVersion, at],
      );
      return;
    }
  }
}

export const customerOrderHistoryProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['customer_order_history'],
  async apply(sql, events) {
    for (const e of events) {
      if (isCustomerEvent(e)) {
        if (!(await applyCustomerEvent(sql, NAME, e))) continue;
        if (e.event.type === 'CustomerRenamed' || e.event.type === 'CustomerErased') {
          const name = e.event.type === 'CustomerRenamed' ? e.event.data.name : null;
          await sql.execute(
            `UPDATE customer_order_history SET summary = summary || jsonb_build_object('customerName', $2::text)
              WHERE customer_id = $1::uuid`,
            [e.event.data.customerId, name],
          );
        }
      } else if (e.aggregateType === 'Order') {
        await applyOrderEvent(sql, e as StoredEvent<OrderEvent>);
      }
    }
    return [];
  },
};
