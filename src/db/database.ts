// Opens the process's database: DATABASE_URL, or the embedded default under the data
// directory. Either way, pending migrations are applied before anything else runs.
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';

// BIGINT (int8) values come back as JS bigint-free strings by default; positions and
// counters in this project are parsed where they are read.
export interface Database {
  url: string;
  embedded: boolean;
  pool: pg.Pool;
  close(): Promise<void>;
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
  const applied = await migrate(url);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');
  const pool = new pg.Pool({
    connectionString: url,
    max: config.poolSize,
    application_name: `parallax-${config.role}`,
  });
  pool.on('error', (error) => log.warn({ err: error }, 'idle database connection failed'));
  // A connection PostgreSQL terminates (restart: 57P01, then the socket closes) emits
  // 'error' on its client, also while it is checked out between two queries or already
  // being discarded. Unheard, that event would end the process; the query in flight
  // fails anyway (UNAVAILABLE) and the pool drops the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => log.debug({ err: error }, 'database connection lost'));
  });
  return {
    url,
    embedded: embedded !== undefined,
    pool,
    async close() {
      await pool.end().catch(() => {});
      await embedded?.stop();
    },
  };
}
