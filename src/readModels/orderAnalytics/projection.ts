// order_analytics: per UTC day of creation and current status, the order count,
// revenue and items sold. It is kept by deltas, so it is the read model that would
// show any event applied twice.
//
// Set-based: the batch's orders are loaded (order_analytics_orders, locked) and changed
// in memory event by event with the same guards as one statement per event; each
// event's deltas are summed per bucket and added with one upsert (additive, so an
// INLINE command adding to the same bucket at the same time loses nothing), then the
// buckets an order left are dropped once empty.

import type { Sql } from '../../db/sql.ts';
import type { OrderEvent } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import { idKey } from '../../projections/customers.ts';
import type { Projection } from '../../projections/projection.ts';
import { checks } from './verify.ts';

const NAME = 'order_analytics';

interface AnalyticsOrder {
  orderId: string;
  day: string;
  status: string;
  totalCents: number;
  items: number;
  version: number;
  isNew: boolean;
  changed: boolean;
}

interface Bucket {
  day: string;
  status: string;
  orders: number;
  revenue: number;
  items: number;
  /** An order left it: drop it if that leaves it empty. */
  left: boolean;
}

async function loadOrders(sql: Sql, orderIds: string[]): Promise<Map<string, AnalyticsOrder>> {
  const orders = new Map<string, AnalyticsOrder>();
  if (!orderIds.length) return orders;
  const found = await sql.query<{
    order_id: string;
    day: string;
    status: string;
    total_cents: number;
    items: number;
    version: number;
  }>(
    `SELECT order_id::text AS order_id, day::text AS day, status, total_cents::float8 AS total_cents, items, version
       FROM order_analytics_orders WHERE order_id = ANY($1::uuid[])
      ORDER BY order_id FOR UPDATE`,
    [orderIds],
  );
  for (const r of found) {
    orders.set(idKey(r.order_id), {
      orderId: r.order_id,
      day: r.day,
      status: r.status,
      totalCents: Number(r.total_cents),
      items: Number(r.items),
      version: Number(r.version),
      isNew: false,
      changed: false,
    });
  }
  return orders;
}

/** The UTC day of each creation time, as PostgreSQL reads the timestamp. */
async function utcDays(sql: Sql, createdAt: string[]): Promise<string[]> {
  if (!createdAt.length) return [];
  const rows = await sql.query<{ day: string }>(
    `SELECT ((t.at::timestamptz AT TIME ZONE 'UTC')::date)::text AS day
       FROM unnest($1::text[]) WITH ORDINALITY AS t(at, n) ORDER BY t.n`,
    [createdAt],
  );
  return rows.map((r) => r.day);
}

class Buckets {
  private readonly byKey = new Map<string, Bucket>();

  add(day: string, status: string, orders: number, revenue: number, items: number): void {
    const key = `${day}|${status}`;
    let bucket = this.byKey.get(key);
    if (!bucket) {
      bucket = { day, status, orders: 0, revenue: 0, items: 0, left: false };
      this.byKey.set(key, bucket);
    }
    bucket.orders += orders;
    bucket.revenue += revenue;
    bucket.items += items;
    if (orders < 0) bucket.left = true;
  }

  async save(sql: Sql): Promise<void> {
    const buckets = [...this.byKey.values()];
    if (!buckets.length) return;
    await sql.execute(
      `INSERT INTO order_analytics (day, status, order_count, revenue_cents, items_sold)
       SELECT * FROM unnest($1::date[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
       ON CONFLICT (day, status) DO UPDATE
         SET order_count = order_analytics.order_count + EXCLUDED.order_count,
             revenue_cents = order_analytics.revenue_cents + EXCLUDED.revenue_cents,
             items_sold = order_analytics.items_sold + EXCLUDED.items_sold`,
      [
        buckets.map((b) => b.day),
        buckets.map((b) => b.status),
        buckets.map((b) => b.orders),
        buckets.map((b) => b.revenue),
        buckets.map((b) => b.items),
      ],
    );
    const left = buckets.filter((b) => b.left);
    if (left.length) {
      await sql.execute(
        `DELETE FROM order_analytics AS a USING unnest($1::date[], $2::text[]) AS b(day, status)
          WHERE a.day = b.day AND a.status = b.status AND a.order_count = 0`,
        [left.map((b) => b.day), left.map((b) => b.status)],
      );
    }
  }
}

function applyOrderEvent(
  orders: Map<string, AnalyticsOrder>,
  buckets: Buckets,
  days: Map<StoredEvent, string>,
  e: StoredEvent<OrderEvent>,
): void {
  const { event } = e;
  const id = idKey(event.data.orderId);
  const order = orders.get(id);
  switch (event.type) {
    case 'OrderCreated': {
      if (order) return;
      const { data } = event;
      const items = data.items.reduce((n, l) => n + l.quantity, 0);
      const day = days.get(e)!;
      orders.set(id, {
        orderId: data.orderId,
        day,
        status: 'PENDING',
        totalCents: data.totalCents,
        items,
        version: e.aggregateVersion,
        isNew: true,
        changed: true,
      });
      buckets.add(day, 'PENDING', 1, data.totalCents, items);
      return;
    }
    case 'OrderItemAdded': {
      if (!order || order.version !== e.aggregateVersion - 1) return;
      const { item } = event.data;
      order.totalCents = event.data.totalCents;
      order.items += item.quantity;
      order.version = e.aggregateVersion;
      order.changed = true;
      buckets.add(order.day, order.status, 0, item.quantity * item.unitPriceCents, item.quantity);
      return;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      if (!order || order.version !== e.aggregateVersion - 1) return;
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      buckets.add(order.day, order.status, -1, -order.totalCents, -order.items);
      buckets.add(order.day, to, 1, order.totalCents, order.items);
      order.status = to;
      order.version = e.aggregateVersion;
      order.changed = true;
      return;
    }
  }
}

async function saveOrders(sql: Sql, orders: AnalyticsOrder[]): Promise<void> {
  const created = orders.filter((o) => o.isNew);
  const updated = orders.filter((o) => !o.isNew);
  const columns = (list: AnalyticsOrder[]) => [
    list.map((o) => o.orderId),
    list.map((o) => o.day),
    list.map((o) => o.status),
    list.map((o) => o.totalCents),
    list.map((o) => o.items),
    list.map((o) => o.version),
  ];
  if (created.length) {
    const inserted = await sql.execute(
      `INSERT INTO order_analytics_orders (order_id, day, status, total_cents, items, version)
       SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[], $5::int[], $6::int[])
       ON CONFLICT (order_id) DO NOTHING`,
      columns(created),
    );
    // The rows were looked up (locked) at the start of the batch; one that appeared
    // since would be counted twice: fail the batch, so it is applied again.
    if (inserted !== created.length) throw new Error('order_analytics_orders changed during the batch');
  }
  if (updated.length) {
    await sql.execute(
      `UPDATE order_analytics_orders AS o
          SET day = r.day, status = r.status, total_cents = r.total_cents, items = r.items, version = r.version
         FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[], $5::int[], $6::int[])
              AS r(order_id, day, status, total_cents, items, version)
        WHERE o.order_id = r.order_id`,
      columns(updated),
    );
  }
}

export const orderAnalyticsProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_analytics', 'order_analytics_orders'],
  checks,
  async apply(sql, events) {
    const orderEvents = events.filter((e): e is StoredEvent<OrderEvent> => e.aggregateType === 'Order');
    if (!orderEvents.length) return;
    const orders = await loadOrders(sql, [...new Set(orderEvents.map((e) => idKey(e.event.data.orderId)))]);
    const created = orderEvents.filter((e) => e.event.type === 'OrderCreated');
    const createdDays = await utcDays(
      sql,
      created.map((e) => (e.event.type === 'OrderCreated' ? e.event.data.createdAt : '')),
    );
    const days = new Map(created.map((e, i) => [e as StoredEvent, createdDays[i]!]));
    const buckets = new Buckets();
    for (const e of orderEvents) applyOrderEvent(orders, buckets, days, e);
    await saveOrders(
      sql,
      [...orders.values()].filter((o) => o.changed),
    );
    await buckets.save(sql);
  },
};
