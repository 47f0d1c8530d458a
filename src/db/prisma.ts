import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';
import { type Prisma, PrismaClient } from '../generated/prisma/client.ts';

export { PrismaClient };
export type TransactionClient = Prisma.TransactionClient;

/** Prisma over the process's one pg pool, so the connection budget is the pool's. */
export function createPrisma(pool: pg.Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool) });
}
