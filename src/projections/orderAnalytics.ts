// order_analytics: per UTC day of creation and current status, the order count,
// revenue and items sold. It is kept by deltas, so it is the read model that would
// show any event applied twice.
import type { StoredEvent } from '../outbox/append.ts';
import type { OrderEvent } from '../write/order/events.ts';
import type { Projection } from './projection.ts';
import type { Sql } from './sql.ts';

const NAME = 'order_analytics';

async function addToBucket(sql: Sql, day: string, status: string, orders: number, revenue: number, items: number) {
  await sql.execute(
    `INSERT INTO order_analytics (day, status, order_count, revenue_cents, items_sold)
     VALUES ($1::date, $2, $3::int, $4::bigint, $5::bigint)
     ON CONFLICT (day, status) DO UPDATE
       SET order_count = order_analytics.order_count + EXCLUDED.order_count,
           revenue_cents = order_analytics.revenue_cents + EXCLUDED.revenue_cents,
           items_sold = order_analytics.items_sold + EXCLUDED.items_sold`,
    [day, status, orders, revenue, items],
  );
  if (orders < 0) {
    await sql.execute('DELETE FROM order_analytics WHERE day = $1::date AND status = $2 AND order_count = 0', [
      day,
      status,
    ]);
  }
}

async function applyOrderEvent(sql: Sql, e: StoredEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  switch (event.type) {
    case 'OrderCreated': {
      const { data } = event;
      const items = data.items.reduce((n, l) => n + l.quantity, 0);
      // One statement: remember the order, count it in its bucket only if it is new.
      await sql.execute(
        `WITH inserted AS (
           INSERT INTO order_analytics_orders (order_id, day, status, total_cents, items, version)
           VALUES ($1::uuid, ($2::timestamptz AT TIME ZONE 'UTC')::date, 'PENDING', $3::bigint, $4::int, $5::int)
           ON CONFLICT (order_id) DO NOTHING
           RETURNING day
         )
         INSERT INTO order_analytics (day, status, order_count, revenue_cents, items_sold)
         SELECT day, 'PENDING', 1, $3::bigint, $4::int FROM inserted
         ON CONFLICT (day, status) DO UPDATE
           SET order_count = order_analytics.order_count + 1,
               revenue_cents = order_analytics.revenue_cents + EXCLUDED.revenue_cents,
               items_sold = order_analytics.items_sold + EXCLUDED.items_sold`,
        [data.orderId, data.createdAt, data.totalCents, items, e.aggregateVersion],
      );
      return;
    }
    case 'OrderItemAdded': {
      const { item } = event.data;
      const rows = await sql.query<{ day: string; status: string }>(
        `UPDATE order_analytics_orders
            SET total_cents = $2::bigint, items = items + $3::int, version = $4::int
          WHERE order_id = $1::uuid AND version = $4::int - 1
         RETURNING day::text AS day, status`,
        [event.data.orderId, event.data.totalCents, item.quantity, e.aggregateVersion],
      );
      if (rows[0])
        await addToBucket(sql, rows[0].day, rows[0].status, 0, item.quantity * item.unitPriceCents, item.quantity);
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      const rows = await sql.query<{ day: string; from_status: string; total_cents: number; items: number }>(
        `UPDATE order_analytics_orders AS o
            SET status = $2, version = $3::int
           FROM (SELECT order_id, status FROM order_analytics_orders WHERE order_id = $1::uuid FOR UPDATE) AS old
          WHERE o.order_id = old.order_id AND o.version < $3::int
         RETURNING o.day::text AS day, old.status AS from_status, o.total_cents::float8 AS total_cents, o.items`,
        [event.data.orderId, to, e.aggregateVersion],
      );
      const row = rows[0];
      if (row) {
        await addToBucket(sql, row.day, row.from_status, -1, -row.total_cents, -row.items);
        await addToBucket(sql, row.day, to, 1, row.total_cents, row.items);
      }
      return;
    }
  }
}

export const orderAnalyticsProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_analytics', 'order_analytics_orders'],
  async apply(sql, events) {
    for (const e of events) {
      if (e.aggregateType === 'Order') await applyOrderEvent(sql, e as StoredEvent<OrderEvent>);
    }
    return [];
  },
};
