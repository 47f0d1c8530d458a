import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';
import { type Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { statementName } from './sql.ts';

export { PrismaClient };
export type TransactionClient = Prisma.TransactionClient;

/**
 * Prisma over the process's one pg pool, so the connection budget is the pool's. Its
 * statements run as named prepared statements (see sql.ts statementName): unnamed, each
 * command's statements were parsed and planned anew every time.
 */
export function createPrisma(pool: pg.Pool): PrismaClient {
  // The adapter passes the name on to pg as is; undefined (past the bound) runs unnamed.
  const statementNameGenerator = (query: { sql: string }) => statementName(query.sql) as string;
  return new PrismaClient({ adapter: new PrismaPg(pool, { statementNameGenerator }) });
}
