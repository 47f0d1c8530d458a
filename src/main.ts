// Composition root: config → database → services → HTTP server (and, by ROLE, the
// projection engine).
// First: refuses an unsupported Node.js before the rest of the graph is evaluated.
import './checkNodeVersion.ts';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { commandContextFor } from './app.ts';
import { TokenService } from './auth/jwt.ts';
import { createMemoryBus } from './bus/memory.ts';
import { createRedisBus, createRedisClient } from './bus/redis.ts';
import { assertServiceSecret, ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/database.ts';
import { pgSql } from './db/sql.ts';
import { createGraphQLServer } from './graphql/yoga.ts';
import { createLogger } from './observability/logger.ts';
import { startTracing } from './observability/tracing.ts';
import { checkEventVersions, EventVersionError } from './outbox/reader.ts';
import { PositionWatcher } from './read/consistency.ts';
import { completeAllStreams } from './readModels/orderListView/live.ts';
import { createApp, createEngine, createRelay } from './runtime.ts';
import { SEED_ADMIN, seedIfEmpty } from './seed.ts';
import { createHttpServer, readiness } from './server/http.ts';
import { attachWebSocket } from './server/ws.ts';
import { erasedAmong } from './write/customer/erasure.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config, { role: config.role });
  const stopTracing = await startTracing(process.env, log, { 'parallax.role': config.role });
  const devMode = config.nodeEnv !== 'production';
  assertServiceSecret(config);
  const jwtSecret = config.jwtSecret ?? randomBytes(32).toString('base64url');
  const db = await openDatabase(config, log);
  // Before anything reads the outbox: every stored event version can be read in its current shape.
  await checkEventVersions(pgSql(db.pool));
  const namespace = `parallax:${decodeURIComponent(new URL(db.url).pathname.slice(1))}`;
  const bus = config.redisUrl
    ? createRedisBus(config.redisUrl, log, namespace, {
        buffer: config.publishBuffer,
        erasedAmong: (ids) => erasedAmong(db.pool, ids),
      })
    : createMemoryBus();
  // Mutation rate limits count in Redis when there is one: every API process shares one budget per subject.
  const rateLimitRedis =
    config.redisUrl && config.role !== 'projector' ? createRedisClient(config.redisUrl, log, 'rate-limit') : undefined;
  if (!config.redisUrl && config.role === 'api') {
    log.warn('ROLE=api without REDIS_URL: no projector shares this process bus, so subscriptions stay silent');
  }
  const app = createApp({
    config,
    pool: db.pool,
    readPool: db.readPool,
    log,
    tokens: new TokenService(jwtSecret, config.jwt),
    bus,
    ...(rateLimitRedis ? { rateLimitStore: { redis: rateLimitRedis, keyPrefix: namespace } } : {}),
  });
  const { prisma } = app;
  app.metrics.collectProcessMetrics();

  // The demo data is for the embedded default only; a given DATABASE_URL is left as it is.
  if (db.embedded && (await seedIfEmpty(commandContextFor(app, SEED_ADMIN)))) {
    log.info('seeded the demo catalogue and customers');
  }

  if (config.role !== 'api') {
    app.engine = createEngine(app, db.url);
    await app.engine.start();
    // NATS_URL set: the outbox relay runs here too (one process at a time, by lease).
    app.relay = createRelay(app, db.url);
    await app.relay?.start();
  }

  if (config.role !== 'projector') {
    app.watcher = new PositionWatcher(app.pools, bus);
    await app.watcher.start();
    await app.reads.start();
  }

  const adminToken = await app.tokens.sign({ sub: 'admin', role: 'admin' });
  const withGraphQL = config.role !== 'projector';
  const yoga = withGraphQL
    ? createGraphQLServer(app, { graphiqlToken: devMode && !config.jwtSecret ? adminToken : undefined })
    : undefined;
  const server = createHttpServer(app, {
    yoga,
    ready: () =>
      readiness(app.pools, {
        maxLagMs: config.readyMaxLagMs,
        maxIdleMs: config.readyMaxIdleMs,
        log,
        replicas: () => app.reads.statuses(),
      }),
  });
  const ws = yoga ? attachWebSocket(app, server, yoga) : undefined;
  // Handlers first: a signal that arrives as soon as the port answers still stops cleanly.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // Subscriptions end with a proper `complete` (SSE streams end), then sockets close.
    const completed = completeAllStreams();
    if (completed) await new Promise((r) => setTimeout(r, 100));
    await ws?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The engine finishes its batches in flight: nothing half-applied, nothing lost.
    await app.engine?.stop();
    await app.relay?.stop();
    app.watcher?.stop();
    await app.reads.stop();
    await bus.close();
    rateLimitRedis?.disconnect();
    await prisma.$disconnect();
    await db.close();
    await stopTracing();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));

  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}/graphql`;
  if (!config.jwtSecret) {
    const firstCustomer = await prisma.customer.findFirst({ where: { erasedAt: null }, orderBy: { createdAt: 'asc' } });
    const lines = [
      '',
      `Parallax (${config.role}) on ${db.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'}`,
      withGraphQL
        ? `GraphiQL: ${url}  (opens with the admin token in its headers)`
        : `health: http://localhost:${port}/health`,
      `metrics: http://localhost:${port}/metrics${withGraphQL ? `  ops page: http://localhost:${port}/ops (paste the admin token)` : ''}`,
      'JWT_SECRET is random for this start; sample tokens (Authorization: Bearer <token>):',
      `  admin:    ${adminToken}`,
      `  support:  ${await app.tokens.sign({ sub: 'support', role: 'support' })}`,
    ];
    if (firstCustomer) {
      const token = await app.tokens.sign({
        sub: `customer:${firstCustomer.id}`,
        role: 'customer',
        customerId: firstCustomer.id,
      });
      lines.push(`  customer: ${token}  (${firstCustomer.name}, ${firstCustomer.id})`);
    }
    console.log(`${lines.join('\n')}\n`);
  } else {
    log.info({ url, port }, 'listening');
  }
}

main().catch((error) => {
  if (error instanceof ConfigError) console.error(`configuration error: ${error.message}`);
  else if (error instanceof EventVersionError) console.error(`event versions: ${error.message}`);
  else console.error(error);
  process.exit(1);
});
