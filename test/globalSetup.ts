// One PostgreSQL and one Redis for the whole run. PostgreSQL: DATABASE_URL's server, or
// a throwaway embedded cluster. The schema is migrated once into a template database;
// each spec file clones it (test/support/db.ts). Redis: REDIS_URL, else 127.0.0.1:6379,
// else a redis-server from PATH on a free port.
//
// TEST_READ_DATABASE=separate runs the suite with the read models in another PostgreSQL
// (READ_DATABASE_URL): a second throwaway cluster gets a template of the read side's
// migrations, the first one a template of the write side's only, and each spec file's
// app gets a database on each (test/support/app.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { BOTH_SIDES, migrate, type SchemaSide } from '../src/db/migrate.ts';
import { canConnect } from './support/net.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    redisUrl: string;
    /** Set when TEST_READ_DATABASE=separate: the read databases' server and template. */
    readDatabaseServerUrl: string | null;
    readTemplateDatabase: string | null;
  }
}

/** The layout this run tests: one database (default) or a separate read database. */
export function separateReadDatabase(): boolean {
  const value = process.env.TEST_READ_DATABASE ?? 'same';
  if (value !== 'same' && value !== 'separate')
    throw new Error(`TEST_READ_DATABASE is same or separate, got "${value}"`);
  return value === 'separate';
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

/** A PostgreSQL server for the run: `url`, or a throwaway embedded cluster; with a template migrated with `sides`. */
async function templateServer(url: string | undefined, sides: readonly SchemaSide[]) {
  let dir: string | undefined;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let serverUrl = url;
  if (!serverUrl) {
    dir = await mkdtemp(join(tmpdir(), 'parallax-test-'));
    embedded = await startEmbeddedPostgres({ dir, persistent: false, database: 'postgres' });
    serverUrl = embedded.url;
  }
  const template = `parallax_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  const stop = async () => {
    await admin.end().catch(() => {});
    await embedded?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
    const templateUrl = new URL(serverUrl);
    templateUrl.pathname = `/${template}`;
    await migrate(templateUrl.toString(), sides);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    serverUrl,
    template,
    async teardown() {
      const { rows } = await admin.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'parallax_t_${process.pid}_%' OR datname = $1`,
        [template],
      );
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await stop();
    },
  };
}

export default async function setup(project: TestProject) {
  const separate = separateReadDatabase();
  const write = await templateServer(process.env.DATABASE_URL, separate ? ['write'] : BOTH_SIDES);
  let read: Awaited<ReturnType<typeof templateServer>> | undefined;
  let redis: Awaited<ReturnType<typeof findRedis>>;
  try {
    if (separate) read = await templateServer(process.env.TEST_READ_DATABASE_SERVER_URL, ['read']);
    redis = await findRedis();
  } catch (error) {
    await read?.teardown();
    await write.teardown();
    throw error;
  }

  project.provide('databaseServerUrl', write.serverUrl);
  project.provide('templateDatabase', write.template);
  project.provide('redisUrl', redis.url);
  project.provide('readDatabaseServerUrl', read?.serverUrl ?? null);
  project.provide('readTemplateDatabase', read?.template ?? null);

  return async () => {
    await read?.teardown();
    await write.teardown();
    redis.child?.kill();
  };
}
