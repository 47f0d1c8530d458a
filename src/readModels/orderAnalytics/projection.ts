// order_analytics: per UTC day of creation and current status, the order count,
// revenue and items sold. It is kept by deltas, so it is the read model that would
// show any event applied twice.
//
// Set-based (projections/setBased.ts): each order's own row (order_analytics_orders)
// is the skeleton's row, changed by a pure `evolve`; after the rows, each changed
// order's contribution before the batch is taken out of its bucket and its
// contribution after is put in, summed per bucket and added with one upsert (additive,
// so an INLINE command adding to the same bucket at the same time loses nothing); the
// buckets an order left are dropped once empty. A creation is counted once: an order
// row that appears after the batch loaded its rows fails the batch (strictInsert).

import type { Sql } from '../../db/sql.ts';
import { unitsOf } from '../../events/order.ts';
import type { Projection } from '../../projections/projection.ts';
import { applySetBased, type SetBasedModel, skipSetBased } from '../../projections/setBased.ts';
import type { Table } from '../../projections/tables.ts';
import { definition } from './definition.ts';
import { checks } from './verify.ts';

const NAME = 'order_analytics';

export interface AnalyticsOrder {
  orderId: string;
  /** UTC day of creation, YYYY-MM-DD. */
  day: string;
  status: string;
  totalCents: number;
  items: number;
  version: number;
}

const ORDERS: Table<AnalyticsOrder> = {
  name: 'order_analytics_orders',
  key: 'orderId',
  strictInsert: true,
  columns: [
    { field: 'orderId', column: 'order_id', type: 'uuid', fixed: true },
    { field: 'day', column: 'day', type: 'date', fixed: true },
    { field: 'status', column: 'status', type: 'text' },
    { field: 'totalCents', column: 'total_cents', type: 'bigint' },
    { field: 'items', column: 'items', type: 'int' },
    { field: 'version', column: 'version', type: 'int' },
  ],
};

interface Bucket {
  day: string;
  status: string;
  orders: number;
  revenue: number;
  items: number;
}

class Buckets {
  private readonly byKey = new Map<string, Bucket>();

  add(day: string, status: string, orders: number, revenue: number, items: number): void {
    const key = `${day}|${status}`;
    let bucket = this.byKey.get(key);
    if (!bucket) {
      bucket = { day, status, orders: 0, revenue: 0, items: 0 };
      this.byKey.set(key, bucket);
    }
    bucket.orders += orders;
    bucket.revenue += revenue;
    bucket.items += items;
  }

  async save(sql: Sql): Promise<void> {
    const buckets = [...this.byKey.values()].filter((b) => b.orders || b.revenue || b.items);
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
    // Orders left these: drop them if that left them empty.
    const left = buckets.filter((b) => b.orders < 0);
    if (left.length) {
      await sql.execute(
        `DELETE FROM order_analytics AS a USING unnest($1::date[], $2::text[]) AS b(day, status)
          WHERE a.day = b.day AND a.status = b.status AND a.order_count = 0`,
        [left.map((b) => b.day), left.map((b) => b.status)],
      );
    }
  }
}

export const orderAnalyticsModel: SetBasedModel<AnalyticsOrder> = {
  name: NAME,
  table: ORDERS,
  customers: false,
  evolve(row, e) {
    const { event } = e;
    switch (event.type) {
      case 'OrderCreated': {
        const { data } = event;
        return {
          orderId: data.orderId,
          // createdAt is ISO 8601 in UTC: its date part is the UTC day.
          day: new Date(data.createdAt).toISOString().slice(0, 10),
          status: 'PENDING',
          totalCents: data.total.amountCents,
          items: unitsOf(data.items),
          version: e.aggregateVersion,
        };
      }
      case 'OrderItemAdded':
        return row && { ...row, totalCents: event.data.total.amountCents, items: row.items + event.data.item.quantity };
      case 'OrderStatusChanged':
      case 'OrderCancelled':
        return row && { ...row, status: event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to };
    }
  },
  async afterRows(sql, { changed }) {
    const buckets = new Buckets();
    for (const { before, after } of changed) {
      if (before) buckets.add(before.day, before.status, -1, -before.totalCents, -before.items);
      buckets.add(after.day, after.status, 1, after.totalCents, after.items);
    }
    await buckets.save(sql);
  },
};

export const orderAnalyticsProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_analytics', 'order_analytics_orders'],
  definition,
  checks,
  apply: (sql, events) => applySetBased(sql, orderAnalyticsModel, events),
  skip: (sql, events) => skipSetBased(sql, orderAnalyticsModel, events),
};
