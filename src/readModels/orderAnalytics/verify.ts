// order_analytics recomputed from the write tables, for verification (projections/verify.ts).
import type { VerificationCheck } from '../../projections/projection.ts';

export const checks: VerificationCheck[] = [
  {
    table: 'order_analytics',
    key: ['day', 'status'],
    expected: `SELECT (o.created_at AT TIME ZONE 'UTC')::date::text AS day, o.status::text AS status,
        count(*)::int AS order_count, sum(o.total_cents)::float8 AS revenue_cents,
        sum((SELECT coalesce(sum(quantity), 0) FROM order_items WHERE order_id = o.id))::float8 AS items_sold
      FROM orders o GROUP BY 1, 2`,
    actual: `SELECT day::text AS day, status, order_count, revenue_cents::float8 AS revenue_cents,
        items_sold::float8 AS items_sold FROM order_analytics`,
  },
];
