// The one thing a projection needs from a transaction: run SQL. Implemented over a pg
// client (the engine's batch transaction) and over a Prisma transaction (INLINE mode,
// inside the command's own transaction). Projections cast int8 results to int or text
// in SQL, because the two drivers return int8 differently.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { TransactionClient } from './prisma.ts';

export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** For statements that return no rows; resolves to the affected row count. */
  execute(text: string, params?: unknown[]): Promise<number>;
}

const statementNames = new Map<string, string>();
/**
 * A connection keeps every named statement it prepared until it closes; past this many
 * distinct texts (statements built with lists of varying length, say) the rest run
 * unnamed, so the cache per connection stays bounded.
 */
const MAX_NAMED_STATEMENTS = 2_000;

/**
 * The service's SQL is a small, fixed set of statements run over and over: each runs as
 * a named prepared statement, so PostgreSQL parses and plans it once per connection
 * (PostgreSQL re-analyzes a prepared statement when search_path or a table it uses
 * changes, so shadow rebuilds and swaps stay correct). The projections' `Sql` and
 * Prisma's adapter (the commands) name statements here.
 */
export function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (!name && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `px_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}

function prepared(text: string, values: unknown[]): pg.QueryConfig {
  const name = statementName(text);
  return name ? { name, text, values } : { text, values };
}

export function pgSql(client: pg.ClientBase | pg.Pool): Sql {
  return {
    async query<R>(text: string, params: unknown[] = []) {
      return (await client.query(prepared(text, params))).rows as R[];
    },
    async execute(text: string, params: unknown[] = []) {
      return (await client.query(prepared(text, params))).rowCount ?? 0;
    },
  };
}

export function prismaSql(tx: TransactionClient): Sql {
  return {
    query: <R>(text: string, params: unknown[] = []) => tx.$queryRawUnsafe<R[]>(text, ...params),
    execute: (text: string, params: unknown[] = []) => tx.$executeRawUnsafe(text, ...params),
  };
}
