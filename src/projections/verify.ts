// Verification: recompute a read model from the write tables and compare it, row by
// row and field by field, with what the projection holds. Reads only (no locks that
// block writes); run it when the projection has caught up, or expect the lag to show
// up as differences.

import type { Sql } from '../db/sql.ts';
import type { ProjectionName } from './projection.ts';

interface Check {
  /** Table (or table set) compared, for the report. */
  table: string;
  key: string[];
  expected: string;
  actual: string;
}

const CHECKS: Record<ProjectionName, Check[]> = {
  order_list_view: [
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
  ],
  customer_order_history: [
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
  ],
  order_search: [
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
  ],
  order_analytics: [
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
  ],
};

export interface RowDifference {
  table: string;
  key: Record<string, unknown>;
  kind: 'MISSING' | 'EXTRA' | 'DIFFERENT';
  fields: { field: string; expected: unknown; actual: unknown }[];
}

export interface VerificationReport {
  projection: ProjectionName;
  rowsChecked: number;
  differences: RowDifference[];
}

function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

export async function verifyProjection(
  sql: Sql,
  projection: ProjectionName,
  maxDifferences = 100,
): Promise<VerificationReport> {
  const differences: RowDifference[] = [];
  let rowsChecked = 0;
  for (const check of CHECKS[projection]) {
    const [expected, actual] = [await sql.query(check.expected), await sql.query(check.actual)];
    const keyOf = (row: Record<string, unknown>) => check.key.map((k) => String(row[k])).join('|');
    const keyObject = (row: Record<string, unknown>) => Object.fromEntries(check.key.map((k) => [k, row[k]]));
    const actualByKey = new Map(actual.map((row) => [keyOf(row), row]));
    for (const want of expected) {
      rowsChecked += 1;
      const key = keyOf(want);
      const have = actualByKey.get(key);
      actualByKey.delete(key);
      if (!have) {
        differences.push({ table: check.table, key: keyObject(want), kind: 'MISSING', fields: [] });
        continue;
      }
      const fields = Object.keys(want)
        .filter((f) => JSON.stringify(normalize(want[f])) !== JSON.stringify(normalize(have[f])))
        .map((f) => ({ field: f, expected: normalize(want[f]), actual: normalize(have[f]) }));
      if (fields.length) differences.push({ table: check.table, key: keyObject(want), kind: 'DIFFERENT', fields });
    }
    for (const extra of actualByKey.values()) {
      differences.push({ table: check.table, key: keyObject(extra), kind: 'EXTRA', fields: [] });
    }
  }
  return { projection, rowsChecked, differences: differences.slice(0, maxDifferences) };
}
