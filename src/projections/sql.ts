// The one thing a projection needs from a transaction: run SQL. Implemented over a pg
// client (the engine's batch transaction) and over a Prisma transaction (INLINE mode,
// inside the command's own transaction). Projections cast int8 results to int or text
// in SQL, because the two drivers return int8 differently.
import type pg from 'pg';
import type { TransactionClient } from '../db/prisma.ts';

export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** For statements that return no rows; resolves to the affected row count. */
  execute(text: string, params?: unknown[]): Promise<number>;
}

export function pgSql(client: pg.ClientBase | pg.Pool): Sql {
  return {
    async query<R>(text: string, params: unknown[] = []) {
      return (await client.query(text, params)).rows as R[];
    },
    async execute(text: string, params: unknown[] = []) {
      return (await client.query(text, params)).rowCount ?? 0;
    },
  };
}

export function prismaSql(tx: TransactionClient): Sql {
  return {
    query: <R>(text: string, params: unknown[] = []) => tx.$queryRawUnsafe<R[]>(text, ...params),
    execute: (text: string, params: unknown[] = []) => tx.$executeRawUnsafe(text, ...params),
  };
}
