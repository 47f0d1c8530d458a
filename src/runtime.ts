// Assembly shared by main.ts and the tests: the App services and the engine.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { App } from './app.ts';
import type { TokenService } from './auth/jwt.ts';
import type { Bus } from './bus/bus.ts';
import { type Config, failurePolicy, projectionMode } from './config.ts';
import type { Pools } from './db/pools.ts';
import { createPrisma } from './db/prisma.ts';
import type { RateLimitStore } from './graphql/limits.ts';
import { instrumentBus } from './observability/bus.ts';
import { Metrics } from './observability/metrics.ts';
import { OutboxNotifier } from './outbox/notifier.ts';
import { type EngineOptions, ProjectionEngine } from './projections/engine.ts';
import { inlineProjectionsHook } from './projections/inline.ts';
import type { Projection } from './projections/projection.ts';
import { CursorCodec } from './read/paging.ts';
import { ReadSources, replicaMetrics } from './read/replicas.ts';
import { ALL_PROJECTIONS } from './readModels/registry.ts';
import { relayMetrics } from './relay/metrics.ts';
import { OutboxRelay, type RelayOptions } from './relay/relay.ts';

export function createApp(parts: {
  config: Config;
  pool: pg.Pool;
  /** The read database's pool (READ_DATABASE_URL); `pool` when omitted. */
  readPool?: pg.Pool;
  log: Logger;
  tokens: TokenService;
  bus: Bus;
  projections?: Projection[];
  rateLimitStore?: RateLimitStore;
}): App {
  const projections = parts.projections ?? ALL_PROJECTIONS;
  const inline = projections.filter((p) => projectionMode(parts.config, p.name) === 'INLINE');
  const pools: Pools = { write: parts.pool, read: parts.readPool ?? parts.pool };
  const metrics = new Metrics(pools, parts.config);
  // Relay lag is shown by every role (from the database), whether or not this process relays.
  relayMetrics(metrics, parts.pool);
  const reads = new ReadSources(pools.read, parts.config.readReplicas.urls, {
    ...parts.config.readReplicas,
    poolSize: parts.config.poolSize,
    log: parts.log,
  });
  replicaMetrics(metrics, reads);
  return {
    config: parts.config,
    pool: parts.pool,
    pools,
    prisma: createPrisma(parts.pool),
    tokens: parts.tokens,
    cursors: new CursorCodec(parts.tokens.deriveKey('page cursors')),
    log: parts.log,
    bus: instrumentBus(parts.bus, metrics),
    metrics,
    notifier: new OutboxNotifier(parts.pool),
    reads,
    hooks: { afterAppend: inline.length ? [inlineProjectionsHook(inline)] : [] },
    ...(parts.rateLimitStore ? { rateLimitStore: parts.rateLimitStore } : {}),
  };
}

export function createEngine(
  app: App,
  databaseUrl: string,
  options: Partial<Omit<EngineOptions, 'pool' | 'databaseUrl' | 'log' | 'bus' | 'metrics'>> = {},
): ProjectionEngine {
  // With a separate read database, batches commit there and the outbox is read from the
  // write database (databaseUrl), whose commits are heard there too.
  const { write, read } = app.pools;
  return new ProjectionEngine({
    pool: read,
    databaseUrl: app.config.readDatabaseUrl ?? databaseUrl,
    ...(read !== write ? { outbox: { pool: write, databaseUrl } } : {}),
    log: app.log,
    bus: app.bus,
    metrics: app.metrics,
    projections: ALL_PROJECTIONS,
    batchSize: app.config.projectionBatchSize,
    maxBatchSize: app.config.projectionMaxBatchSize,
    pollMs: app.config.projectionPollMs,
    onFailure: (name) => failurePolicy(app.config, name),
    auditMs: app.config.projectionAuditMs,
    leases: app.config.projectionLeases
      ? { owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`, ttlMs: app.config.projectionLeaseMs }
      : undefined,
    ...options,
  });
}

/** The outbox relay to NATS JetStream (undefined when NATS_URL is unset). */
export function createRelay(
  app: App,
  databaseUrl: string,
  options: Partial<Omit<RelayOptions, 'pool' | 'databaseUrl' | 'log' | 'metrics'>> = {},
): OutboxRelay | undefined {
  const config = options.config ?? app.config.relay;
  if (!config) return undefined;
  return new OutboxRelay({
    pool: app.pool,
    databaseUrl,
    log: app.log,
    metrics: relayMetrics(app.metrics, app.pool),
    config,
    owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    leaseMs: app.config.projectionLeaseMs,
    pollMs: app.config.projectionPollMs,
    ...options,
  });
}
