// order_search recomputed from the write tables, for verification (projections/verify.ts).
import type { VerificationCheck } from '../../projections/projection.ts';

export const checks: VerificationCheck[] = [
  {
    table: 'order_search',
    key: ['order_id'],
    expected: `SELECT o.id::text AS order_id, o.customer_id::text AS customer_id, c.name AS customer_name,
        o.status::text AS status, o.total_cents::float8 AS total_cents, o.created_at, o.version,
        (SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE order_id = o.id) AS item_count,
        (SELECT coalesce(array_agg(p.sku ORDER BY i.line_no), '{}') FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = o.id)::text AS skus,
        (SELECT coalesce(array_agg(p.name ORDER BY i.line_no), '{}') FROM order_items i JOIN products p ON p.id = i.product_id
          WHERE i.order_id = o.id)::text AS product_names,
        to_tsvector('simple', coalesce(c.name, ''))::text AS customer_words
      FROM orders o JOIN customers c ON c.id = o.customer_id`,
    actual: `SELECT order_id::text AS order_id, customer_id::text AS customer_id, customer_name, status,
        total_cents::float8 AS total_cents, created_at, version, item_count, skus::text AS skus,
        product_names::text AS product_names, to_tsvector('simple', coalesce(customer_name, ''))::text AS customer_words
      FROM order_search`,
  },
  {
    table: 'order_search_terms',
    key: ['order_id', 'kind', 'term'],
    expected: `SELECT o.id::text AS order_id, 'customer' AS kind, c.name AS term
        FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.name IS NOT NULL
      UNION SELECT i.order_id::text, 'product', p.name FROM order_items i JOIN products p ON p.id = i.product_id
      UNION SELECT i.order_id::text, 'sku', p.sku FROM order_items i JOIN products p ON p.id = i.product_id`,
    actual: 'SELECT order_id::text AS order_id, kind, term FROM order_search_terms',
  },
];
