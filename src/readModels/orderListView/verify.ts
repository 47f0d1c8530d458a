// order_list_view recomputed from the write tables, for verification (projections/verify.ts).
import { CURRENCY } from '../../events/order.ts';
import type { VerificationCheck } from '../../projections/projection.ts';

export const checks: VerificationCheck[] = [
  {
    table: 'order_list_view',
    key: ['order_id'],
    expected: `SELECT o.id::text AS order_id, o.customer_id::text AS customer_id, c.name AS customer_name,
        c.email AS customer_email, o.status::text AS status, o.total_cents::float8 AS total_cents,
        coalesce(sum(i.quantity), 0)::int AS item_count, count(i.id)::int AS line_count, o.version,
        o.created_at
      FROM orders o JOIN customers c ON c.id = o.customer_id LEFT JOIN order_items i ON i.order_id = o.id
      GROUP BY o.id, c.id`,
    actual: `SELECT order_id::text AS order_id, customer_id::text AS customer_id, customer_name, customer_email, status,
        total_cents::float8 AS total_cents, item_count, line_count, version, created_at
      FROM order_list_view`,
  },
  {
    table: 'order_list_view_items',
    key: ['order_id', 'line_no'],
    expected: `SELECT i.order_id::text AS order_id, i.line_no, i.product_id::text AS product_id, p.sku,
        p.name AS product_name, i.quantity, i.unit_price_cents
      FROM order_items i JOIN products p ON p.id = i.product_id`,
    actual: `SELECT order_id::text AS order_id, line_no, product_id::text AS product_id, sku, product_name, quantity,
        unit_price_cents FROM order_list_view_items`,
  },
  {
    // Version 2. The write model keeps its prices in cents of the one currency the
    // catalogue prices in (CURRENCY); the events carry it.
    table: 'order_list_view',
    since: 2,
    key: ['order_id'],
    expected: `SELECT o.id::text AS order_id, '${CURRENCY}' AS currency FROM orders o`,
    actual: 'SELECT order_id::text AS order_id, currency FROM order_list_view',
  },
];
