// The service's two databases as pools: the write database (write model, outbox) and
// the read database (read models, checkpoints, projection bookkeeping). With one
// database (READ_DATABASE_URL unset) both are the very same pool.
import type pg from 'pg';
import { pgSql, type Sql } from './sql.ts';

export interface Pools {
  write: pg.Pool;
  read: pg.Pool;
}

/** Pools as given, or one pool for both sides. */
export function poolsOf(pools: Pools | pg.Pool): Pools {
  return 'write' in pools && 'read' in pools ? pools : { write: pools, read: pools };
}

/** The read models live in a database of their own. */
export function separate(pools: Pools): boolean {
  return pools.write !== pools.read;
}

/** The write database when the read models live apart (where outbox reads go, see outboxSql), else undefined. */
export function outboxPoolOf(pools: Pools): pg.Pool | undefined {
  return separate(pools) ? pools.write : undefined;
}

/**
 * Where the engine reads the outbox from inside a read-database transaction `sql`: that
 * transaction itself with one database (as always), else the write database. Rows below
 * the horizon never change position, so reading them outside the batch's transaction
 * reads the same events; the checkpoint still moves with the rows, in one transaction.
 */
export function outboxSql(sql: Sql, outboxPool: pg.Pool | undefined): Sql {
  return outboxPool ? pgSql(outboxPool) : sql;
}
