// customer_order_history recomputed from the write tables, for verification (projections/verify.ts).
import type { VerificationCheck } from '../../projections/projection.ts';

export const checks: VerificationCheck[] = [
  {
    table: 'customer_order_history',
    key: ['order_id'],
    expected: `SELECT o.id::text AS order_id, o.customer_id::text AS customer_id, o.created_at, o.version,
        o.status::text AS status, o.total_cents::float8 AS total_cents,
        (SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE order_id = o.id) AS item_count,
        (SELECT count(*)::int FROM order_items WHERE order_id = o.id) AS line_count,
        c.name AS customer_name,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('lineNo', i.line_no, 'productId', i.product_id, 'sku', p.sku,
                   'productName', p.name, 'quantity', i.quantity, 'unitPriceCents', i.unit_price_cents)
                 ORDER BY i.line_no), '[]'::jsonb)::text
           FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = o.id AND i.line_no <= 3)
          AS items_preview
      FROM orders o JOIN customers c ON c.id = o.customer_id`,
    actual: `SELECT order_id::text AS order_id, customer_id::text AS customer_id, created_at, version,
        summary->>'status' AS status, (summary->>'totalCents')::float8 AS total_cents,
        (summary->>'itemCount')::int AS item_count, (summary->>'lineCount')::int AS line_count,
        summary->>'customerName' AS customer_name,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('lineNo', e->'lineNo', 'productId', e->'productId',
                   'sku', e->'sku', 'productName', e->'productName', 'quantity', e->'quantity',
                   'unitPriceCents', e->'unitPriceCents') ORDER BY (e->>'lineNo')::int), '[]'::jsonb)::text
           FROM jsonb_array_elements(items_preview) AS e) AS items_preview
      FROM customer_order_history`,
  },
];
