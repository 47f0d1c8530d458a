// A search of the whole database for some text: every table of every non-system
// schema, discovered from pg_catalog (new tables and rebuild shadows are covered without
// listing them), each whole row cast to text and compared case-insensitively, plus the
// lexemes of every tsvector column by prefix. With a separate read database, both
// databases are searched (their tables have distinct names).
import type pg from 'pg';
import { type Pools, poolsOf } from '../../src/db/pools.ts';

/** The distinct databases of `pools`: one, or the write and the read database. */
function databasesOf(pools: Pools | pg.Pool): pg.Pool[] {
  const { write, read } = poolsOf(pools);
  return write === read ? [write] : [write, read];
}

export interface Hit {
  /** schema.table, or schema.table.column (lexemes) for a tsvector match. */
  table: string;
  needle: string;
  rows: number;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Tables that disappeared between listing and reading (a rebuild dropping its shadow) hold nothing. */
async function tolerateDropped<T>(read: () => Promise<T[]>): Promise<T[]> {
  try {
    return await read();
  } catch (error) {
    if ((error as { code?: string }).code === '42P01' || (error as { code?: string }).code === '3F000') return [];
    throw error;
  }
}

export async function listTables(pools: Pools | pg.Pool): Promise<string[]> {
  const lists = await Promise.all(databasesOf(pools).map(listTablesOf));
  return lists.flat();
}

async function listTablesOf(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
      ORDER BY 1, 2`,
  );
  return rows.map((r) => `${r.schema}.${r.name}`);
}

/**
 * Every (table, needle) with at least one row whose text contains the needle, and every
 * tsvector column with a lexeme starting with one of `lexemePrefixes`.
 */
export async function scanDatabase(
  pools: Pools | pg.Pool,
  needles: string[],
  lexemePrefixes: string[] = [],
): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const pool of databasesOf(pools)) hits.push(...(await scanOne(pool, needles, lexemePrefixes)));
  return hits;
}

async function scanOne(pool: pg.Pool, needles: string[], lexemePrefixes: string[]): Promise<Hit[]> {
  const lowered = [...new Set(needles.map((n) => n.toLowerCase()))];
  const hits: Hit[] = [];
  for (const table of await listTablesOf(pool)) {
    const [schema, name] = table.split('.') as [string, string];
    const rows = await tolerateDropped(
      async () =>
        (
          await pool.query<{ needle: string; rows: number }>(
            `SELECT n.needle, count(*)::int AS rows
               FROM ${ident(schema)}.${ident(name)} AS t CROSS JOIN unnest($1::text[]) AS n(needle)
              WHERE strpos(lower(t::text), n.needle) > 0
              GROUP BY n.needle`,
            [lowered],
          )
        ).rows,
    );
    for (const row of rows) hits.push({ table, needle: row.needle, rows: row.rows });
  }
  const prefixes = [...new Set(lexemePrefixes.map((p) => p.toLowerCase()))];
  if (prefixes.length) {
    const { rows: columns } = await pool.query<{ schema: string; name: string; column: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, a.attname AS column
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE a.atttypid = 'tsvector'::regtype AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'`,
    );
    for (const { schema, name, column } of columns) {
      const rows = await tolerateDropped(
        async () =>
          (
            await pool.query<{ needle: string; rows: number }>(
              `SELECT p.prefix AS needle, count(*)::int AS rows
                 FROM ${ident(schema)}.${ident(name)} AS t CROSS JOIN LATERAL unnest(t.${ident(column)}) AS l
                 JOIN unnest($1::text[]) AS p(prefix) ON starts_with(l.lexeme, p.prefix)
                GROUP BY p.prefix`,
              [prefixes],
            )
          ).rows,
      );
      for (const row of rows)
        hits.push({ table: `${schema}.${name}.${column} (lexemes)`, needle: row.needle, rows: row.rows });
    }
  }
  return hits;
}

/** The tables a scan found any of the needles in. */
export const tablesOf = (hits: Hit[]) => [...new Set(hits.map((h) => h.table))].sort();
