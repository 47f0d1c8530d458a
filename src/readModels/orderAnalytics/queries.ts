// Queries over order_analytics (for everyone who may see all orders), and the same
// figures computed from a customer's own rows of order_list_view for a customer.
import type pg from 'pg';

export type Bucket = 'DAY' | 'WEEK' | 'MONTH';

export interface AnalyticsRow {
  bucketStart: string;
  status: string;
  orderCount: number;
  revenueCents: number;
  itemsSold: number;
}

const TRUNC: Record<Bucket, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month' };

export async function getOrderAnalytics(pool: pg.Pool, from: Date, to: Date, bucket: Bucket): Promise<AnalyticsRow[]> {
  const { rows } = await pool.query<AnalyticsRow>(
    `SELECT date_trunc('${TRUNC[bucket]}', day)::date::text AS "bucketStart", status,
            sum(order_count)::int AS "orderCount", sum(revenue_cents)::float8 AS "revenueCents",
            sum(items_sold)::float8 AS "itemsSold"
       FROM order_analytics
      WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [from, to],
  );
  return rows;
}

export async function getCustomerAnalytics(
  pool: pg.Pool,
  customerId: string,
  from: Date,
  to: Date,
  bucket: Bucket,
): Promise<AnalyticsRow[]> {
  const { rows } = await pool.query<AnalyticsRow>(
    `SELECT date_trunc('${TRUNC[bucket]}', (created_at AT TIME ZONE 'UTC')::date)::date::text AS "bucketStart", status,
            count(*)::int AS "orderCount", sum(total_cents)::float8 AS "revenueCents", sum(item_count)::float8 AS "itemsSold"
       FROM order_list_view
      WHERE customer_id = $1::uuid AND (created_at AT TIME ZONE 'UTC')::date >= ($2::timestamptz AT TIME ZONE 'UTC')::date
        AND (created_at AT TIME ZONE 'UTC')::date < ($3::timestamptz AT TIME ZONE 'UTC')::date
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [customerId, from, to],
  );
  return rows;
}
