// Full-text search, facets and autocomplete over order_search.
import type pg from 'pg';
import type { CursorCodec, OrderFilter } from '../../read/paging.ts';
import type { SearchRow } from './projection.ts';

/**
 * Turns user text into a prefix tsquery: every word must match the start of a
 * lexeme. Characters with a meaning in tsquery syntax are dropped, and each word is
 * quoted, so no input can produce a tsquery syntax error.
 */
export function toPrefixQuery(text: string): string | null {
  const words = text
    .toLowerCase()
    .split(/[\s&|!():*<>'"\\,;]+/)
    .map((w) => w.replace(/[^\p{L}\p{N}._-]/gu, ''))
    .filter((w) => w.length > 0)
    .slice(0, 10);
  if (!words.length) return null;
  return words.map((w) => `'${w}':*`).join(' & ');
}

/** A row of order_search as a search returns it: with its rank, and its creation time as a Date. */
export interface SearchHit extends Omit<SearchRow, 'createdAt' | 'version'> {
  createdAt: Date;
  rank: number;
}

export const AMOUNT_BUCKETS = [
  { key: 'UNDER_50', from: 0, to: 5_000 },
  { key: 'FROM_50_TO_200', from: 5_000, to: 20_000 },
  { key: 'FROM_200_TO_1000', from: 20_000, to: 100_000 },
  { key: 'OVER_1000', from: 100_000, to: null },
] as const;

export interface SearchResult {
  hits: SearchHit[];
  cursors: string[];
  hasNextPage: boolean;
  total: number;
  facets: {
    status: { value: string; count: number }[];
    amount: { key: string; fromCents: number; toCents: number | null; count: number }[];
    createdAt: { from: Date | null; to: Date | null };
  };
}

function conditions(query: string | null, filters: OrderFilter, withStatus: boolean, params: unknown[]): string {
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (query) add(`document @@ to_tsquery('simple', ?)`, query);
  if (filters.customerId) add('customer_id = ?::uuid', filters.customerId);
  if (withStatus && filters.status) add('status = ?', filters.status);
  if (filters.createdFrom) add('created_at >= ?', filters.createdFrom);
  if (filters.createdTo) add('created_at < ?', filters.createdTo);
  if (filters.minTotal !== null && filters.minTotal !== undefined) add('total_cents >= ?', filters.minTotal);
  if (filters.maxTotal !== null && filters.maxTotal !== undefined) add('total_cents <= ?', filters.maxTotal);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

export async function searchOrders(
  pool: pg.Pool,
  cursorCodec: CursorCodec,
  text: string,
  filters: OrderFilter,
  first: number,
  after?: string | null,
): Promise<SearchResult> {
  const query = toPrefixQuery(text);
  const offset = after ? (cursorCodec.decode('search', after, ['offset'])[0] as number) : 0;
  const hitParams: unknown[] = [];
  const where = conditions(query, filters, true, hitParams);
  const rank = query ? `ts_rank(document, to_tsquery('simple', $1))` : '0';
  hitParams.push(first + 1, offset);
  const hits = await pool.query<SearchHit>(
    `SELECT order_id::text AS "orderId", customer_id::text AS "customerId", customer_name AS "customerName", status,
            total_cents::float8 AS "totalCents", item_count AS "itemCount", created_at AS "createdAt", skus,
            product_names AS "productNames", ${rank}::float8 AS rank
       FROM order_search ${where}
      ORDER BY rank DESC, created_at DESC, order_id DESC
      LIMIT $${hitParams.length - 1} OFFSET $${hitParams.length}`,
    hitParams,
  );
  // Facets count the matches with every filter but their own (status counts ignore the
  // status filter), as shoppers expect from faceted search.
  const facetParams: unknown[] = [];
  const facetWhere = conditions(query, filters, false, facetParams);
  const statusParamIndex = facetParams.length + 1;
  facetParams.push(filters.status ?? null);
  const buckets = AMOUNT_BUCKETS.map(
    (b) =>
      `count(*) FILTER (WHERE ($${statusParamIndex}::text IS NULL OR status = $${statusParamIndex}) AND total_cents >= ${b.from}${b.to === null ? '' : ` AND total_cents < ${b.to}`})::int AS "${b.key}"`,
  ).join(', ');
  const facets = await pool.query(
    `WITH matches AS (SELECT status, total_cents, created_at FROM order_search ${facetWhere})
     SELECT (SELECT coalesce(json_agg(json_build_object('value', status, 'count', n) ORDER BY status), '[]')
               FROM (SELECT status, count(*)::int AS n FROM matches GROUP BY status) s) AS status,
            (SELECT json_build_object(${AMOUNT_BUCKETS.map((b) => `'${b.key}', "${b.key}"`).join(', ')})
               FROM (SELECT ${buckets} FROM matches) b) AS amount,
            (SELECT min(created_at) FROM matches WHERE $${statusParamIndex}::text IS NULL OR status = $${statusParamIndex}) AS "createdFrom",
            (SELECT max(created_at) FROM matches WHERE $${statusParamIndex}::text IS NULL OR status = $${statusParamIndex}) AS "createdTo",
            (SELECT count(*)::int FROM matches WHERE $${statusParamIndex}::text IS NULL OR status = $${statusParamIndex}) AS total`,
    facetParams,
  );
  const f = facets.rows[0] as {
    status: { value: string; count: number }[];
    amount: Record<string, number>;
    createdFrom: Date | null;
    createdTo: Date | null;
    total: number;
  };
  const nodes = hits.rows.slice(0, first);
  return {
    hits: nodes,
    cursors: nodes.map((_, i) => cursorCodec.encode('search', [offset + i + 1])),
    hasNextPage: hits.rows.length > first,
    total: f.total,
    facets: {
      status: f.status,
      amount: AMOUNT_BUCKETS.map((b) => ({
        key: b.key,
        fromCents: b.from,
        toCents: b.to,
        count: f.amount[b.key] ?? 0,
      })),
      createdAt: { from: f.createdFrom, to: f.createdTo },
    },
  };
}

export interface Suggestion {
  term: string;
  kind: string;
  orders: number;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Prefix matches first (most orders first), then close trigram (word similarity) matches to fill up. */
export async function autocomplete(
  pool: pg.Pool,
  prefix: string,
  limit: number,
  customerId?: string | null,
): Promise<Suggestion[]> {
  const scoped = customerId ? 'AND order_id IN (SELECT order_id FROM order_search WHERE customer_id = $3::uuid)' : '';
  const params: unknown[] = [`${escapeLike(prefix.toLowerCase())}%`, limit];
  if (customerId) params.push(customerId);
  const prefixed = await pool.query<Suggestion>(
    `SELECT term, kind, count(*)::int AS orders FROM order_search_terms
      WHERE lower(term) LIKE $1 ${scoped}
      GROUP BY term, kind ORDER BY orders DESC, term LIMIT $2`,
    params,
  );
  if (prefixed.rows.length >= limit || prefix.length < 3) return prefixed.rows;
  const fuzzyParams: unknown[] = [prefix.toLowerCase(), limit - prefixed.rows.length, prefixed.rows.map((r) => r.term)];
  if (customerId) fuzzyParams.push(customerId);
  const fuzzy = await pool.query<Suggestion>(
    `SELECT term, kind, count(*)::int AS orders FROM order_search_terms
      WHERE $1 <% lower(term) AND term <> ALL($3::text[])
        ${customerId ? 'AND order_id IN (SELECT order_id FROM order_search WHERE customer_id = $4::uuid)' : ''}
      GROUP BY term, kind ORDER BY max(word_similarity($1, lower(term))) DESC, orders DESC LIMIT $2`,
    fuzzyParams,
  );
  return [...prefixed.rows, ...fuzzy.rows];
}
