// One PostgreSQL and one Redis for the whole run. PostgreSQL: DATABASE_URL's server, or
// a throwaway embedded cluster. The schema is migrated once into a template database;
// each spec file clones it (test/support/db.ts). Redis: REDIS_URL, else 127.0.0.1:6379,
// else a redis-server from PATH on a free port.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { canConnect } from './support/net.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    redisUrl: string;
  }
}

async function findRedis(): Promise<{ url: string; child?: ChildProcess }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  if (await canConnect(6379)) return { url: 'redis://127.0.0.1:6379' };
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const failed = new Promise<never>((_, reject) =>
    child.on('error', () =>
      reject(
        new Error(
          'Redis is needed for the tests: set REDIS_URL, run one on 127.0.0.1:6379, or put redis-server on PATH (Debian: apt-get install redis-server)',
        ),
      ),
    ),
  );
  for (let i = 0; i < 50; i++) {
    if (await Promise.race([canConnect(port), failed])) return { url: `redis://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server did not start on port ${port}`);
}

export default async function setup(project: TestProject) {
  let dir: string | undefined;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    dir = await mkdtemp(join(tmpdir(), 'parallax-test-'));
    embedded = await startEmbeddedPostgres({ dir, persistent: false, database: 'postgres' });
    serverUrl = embedded.url;
  }
  const template = `parallax_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  let redis: Awaited<ReturnType<typeof findRedis>>;
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
    const templateUrl = new URL(serverUrl);
    templateUrl.pathname = `/${template}`;
    await migrate(templateUrl.toString());
    redis = await findRedis();
  } catch (error) {
    await admin.end().catch(() => {});
    await embedded?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }

  project.provide('databaseServerUrl', serverUrl);
  project.provide('templateDatabase', template);
  project.provide('redisUrl', redis.url);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'parallax_t_${process.pid}_%' OR datname = $1`,
      [template],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    redis.child?.kill();
  };
}
