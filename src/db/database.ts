// Opens the process's databases: DATABASE_URL, or the embedded default under the data
// directory, and READ_DATABASE_URL when the read models live apart. Either way, pending
// migrations are applied (each side's to its database) before anything else runs.
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrateDatabases } from './migrate.ts';

// BIGINT (int8) values come back as JS bigint-free strings by default; positions and
// counters in this project are parsed where they are read.
export interface Database {
  /** The write database: write model, outbox, relay checkpoints. */
  url: string;
  /** The read database (READ_DATABASE_URL), or `url` when it is the same one. */
  readUrl: string;
  embedded: boolean;
  pool: pg.Pool;
  /** The read database's pool; the very same pool as `pool` with one database. */
  readPool: pg.Pool;
  close(): Promise<void>;
}

function openPool(url: string, config: Config, log: Logger, name: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: config.poolSize,
    application_name: `parallax-${config.role}${name}`,
  });
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  // A connection PostgreSQL terminates (restart: 57P01, then the socket closes) emits
  // 'error' on its client, also while it is checked out between two queries or already
  // being discarded. Unheard, that event would end the process; the query in flight
  // fails anyway (UNAVAILABLE) and the pool drops the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => log.debug({ err: error }, 'database connection lost'));
  });
  return pool;
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({
        dir: join(config.dataDir),
        persistent: true,
        log: (line) => log.debug({ postgres: line }, 'embedded postgres'),
      });
  const url = config.databaseUrl ?? embedded!.url;
  const readUrl = config.readDatabaseUrl ?? url;
  const applied = await migrateDatabases(url, config.readDatabaseUrl);
  if (applied.write.length) log.info({ migrations: applied.write }, 'migrations applied');
  if (applied.read.length) log.info({ migrations: applied.read }, 'read database migrations applied');
  const pool = openPool(url, config, log, '');
  const readPool = readUrl === url ? pool : openPool(readUrl, config, log, '-read');
  return {
    url,
    readUrl,
    embedded: embedded !== undefined,
    pool,
    readPool,
    async close() {
      await pool.end().catch(() => {});
      if (readPool !== pool) await readPool.end().catch(() => {});
      await embedded?.stop();
    },
  };
}
