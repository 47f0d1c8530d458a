// A Parallax app for one spec file: its own database, real PostgreSQL, the real
// GraphQL server driven through yoga.fetch (no socket).
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { TokenService } from '../../src/auth/jwt.ts';
import { createMemoryBus } from '../../src/bus/memory.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { outboxPoolOf } from '../../src/db/pools.ts';
import { createGraphQLServer } from '../../src/graphql/yoga.ts';
import { loggerOptions } from '../../src/observability/logger.ts';
import { PositionWatcher } from '../../src/read/consistency.ts';
import { createApp, createEngine } from '../../src/runtime.ts';
import { createSpecDatabase, createSpecReadDatabase } from './db.ts';
import { caughtUp } from './projections.ts';
import { type Catalogue, givenCatalogue } from './workload.ts';

export const TEST_JWT_SECRET = 'parallax-test-secret-0123456789-abcdefghij';

export interface GraphQLResponse<R> {
  status: number;
  data?: R | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;

export async function createTestApp(
  options: {
    env?: Record<string, string>;
    poolSize?: number;
    databaseUrl?: string;
    /** A read database the test brings; null: none even in a separate-layout run. */
    readDatabaseUrl?: string | null;
  } = {},
) {
  // A database of its own on the shared server, unless the test brings one (its own cluster).
  const databaseUrl = options.databaseUrl ?? (await createSpecDatabase());
  // And a read database of its own when the run tests the separate layout (TEST_READ_DATABASE).
  const readDatabaseUrl =
    options.readDatabaseUrl === null
      ? undefined
      : (options.readDatabaseUrl ?? (options.databaseUrl ? undefined : await createSpecReadDatabase()));
  // One database asked for in a separate-layout run: the write template lacks the read side.
  if (options.readDatabaseUrl === null && !options.databaseUrl && inject('readTemplateDatabase')) {
    await migrate(databaseUrl, ['read']);
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: databaseUrl,
    ...(readDatabaseUrl ? { READ_DATABASE_URL: readDatabaseUrl } : {}),
    ...options.env,
  });
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  // The production logger options (level, redaction), writing into `logs`.
  const log = pino(loggerOptions({ logLevel: 'info' }, {}), logStream);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 25 });
  const readPool = readDatabaseUrl
    ? new pg.Pool({ connectionString: readDatabaseUrl, max: options.poolSize ?? 25 })
    : pool;
  // As main.ts does: a connection the server ends (a restart) must not end the test process.
  for (const p of new Set([pool, readPool])) {
    p.on('error', () => {});
    p.on('connect', (client) => client.on('error', () => {}));
  }
  const tokens = new TokenService(TEST_JWT_SECRET, config.jwt);
  const app = createApp({ config, pool, readPool, log, tokens, bus: createMemoryBus() });
  const { prisma, pools } = app;
  app.watcher = new PositionWatcher(pools, app.bus);
  await app.watcher.start();
  await app.reads.start();
  const yoga = createGraphQLServer(app);

  const adminToken = await tokens.sign({ sub: 'test-admin', role: 'admin' });
  const supportToken = await tokens.sign({ sub: 'test-support', role: 'support' });

  async function request(
    body: string | Record<string, unknown>,
    headers: Record<string, string> = {},
    method = 'POST',
  ) {
    const response = await yoga.fetch('http://test/graphql', {
      method,
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as GraphQLResponse<unknown> };
  }

  /** Runs a typed document; token defaults to the admin token, null sends none. */
  async function gql<R, V>(
    document: TypedDocumentNode<R, V>,
    variables?: V,
    token: string | null = adminToken,
  ): Promise<GraphQLResponse<R>> {
    const { status, json } = await request(
      { query: print(document), variables: variables ?? {} },
      token ? { authorization: `Bearer ${token}` } : {},
    );
    return { ...(json as GraphQLResponse<R>), status };
  }

  return {
    app,
    yoga,
    /** The write database (commands, the outbox). */
    pool,
    /** The read database: read models, checkpoints, parked events (the same pool as `pool` in one database). */
    readPool,
    pools,
    /** Set when the read models live in a database of their own. */
    readDatabaseUrl,
    /** The environment that points a spawned process at this app's databases. */
    databaseEnv: {
      DATABASE_URL: databaseUrl,
      ...(readDatabaseUrl ? { READ_DATABASE_URL: readDatabaseUrl } : {}),
    } as Record<string, string>,
    /** The write database when the read models live apart (the engine's outbox pool), else undefined. */
    outboxPool: outboxPoolOf(pools),
    prisma,
    logs,
    databaseUrl,
    adminToken,
    supportToken,
    customerToken: (customerId: string) => tokens.sign({ sub: `customer:${customerId}`, role: 'customer', customerId }),
    request,
    gql,
    /** Starts an in-process projection engine on this app (stopped by close). */
    async startEngine(options: Parameters<typeof createEngine>[2] = {}) {
      app.engine = createEngine(app, databaseUrl, { pollMs: 200, ...options });
      await app.engine.start();
      return app.engine;
    },
    async close() {
      await app.engine?.stop();
      app.watcher?.stop();
      await app.reads.stop();
      await prisma.$disconnect();
      await pool.end();
      if (readPool !== pool) await readPool.end();
    },
  };
}

/** A test app with a catalogue (written through the command handlers) and its projection engine started and caught up. */
export async function createCaughtUpTestApp(
  catalogue: { products: number; customers: number },
  engine: Parameters<TestApp['startEngine']>[0],
): Promise<{ t: TestApp; catalogue: Catalogue }> {
  const t = await createTestApp();
  const given = await givenCatalogue(t.app, catalogue.products, catalogue.customers);
  await t.startEngine(engine);
  await caughtUp(t.pools);
  return { t, catalogue: given };
}
