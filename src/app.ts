// The services one process shares: its pool, Prisma, tokens and logger. Built once by
// main.ts (or a test) and handed to the GraphQL context and the projection engine.
import type { Context as TraceContext } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { TokenService } from './auth/jwt.ts';
import type { Subject } from './auth/subject.ts';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config.ts';
import type { Pools } from './db/pools.ts';
import type { PrismaClient } from './db/prisma.ts';
import { pgSql } from './db/sql.ts';
import type { RateLimitStore } from './graphql/limits.ts';
import type { Metrics } from './observability/metrics.ts';
import type { OutboxNotifier } from './outbox/notifier.ts';
import type { ProjectionEngine } from './projections/engine.ts';
import type { PositionWatcher } from './read/consistency.ts';
import type { CursorCodec } from './read/paging.ts';
import type { ReadSources } from './read/replicas.ts';
import type { OutboxRelay } from './relay/relay.ts';
import type { CommandContext, CommandHooks } from './write/command.ts';

export interface App {
  config: Config;
  /** The write database: commands (Prisma), the outbox, relay checkpoints. */
  pool: pg.Pool;
  /**
   * Both databases: `write` is `pool`; `read` holds the read models, checkpoints and
   * projection bookkeeping (READ_DATABASE_URL; the same pool as `pool` when unset).
   */
  pools: Pools;
  prisma: PrismaClient;
  tokens: TokenService;
  /** Makes and checks page cursors (HMAC, key derived from the token secret). */
  cursors: CursorCodec;
  log: Logger;
  hooks: CommandHooks;
  /** Counts failed publishes (see observability/bus.ts). */
  bus: Bus;
  /** Wakes projection engines in other processes after commits. */
  notifier: OutboxNotifier;
  /** This process's Prometheus metrics (/metrics). */
  metrics: Metrics;
  /** Present where this process runs the projection engine (ROLE all or projector). */
  engine?: ProjectionEngine;
  /** Where the mutation rate limit counts: Redis (shared by every process) when REDIS_URL is set, else memory. */
  rateLimitStore?: RateLimitStore;
  /** Present where this process serves GraphQL: read-your-writes waits. */
  watcher?: PositionWatcher;
  /** Where queries read: the primary, or streaming replicas (READ_REPLICA_URLS). */
  reads: ReadSources;
  /** Present where this process may relay the outbox to NATS (projector role, NATS_URL set). */
  relay?: OutboxRelay;
}

/** How every entry point (GraphQL, seed, tests) runs commands on this app. */
export function commandContextFor(app: App, subject: Subject, trace: TraceContext | null = null): CommandContext {
  const mode = app.config.outboxNotify;
  return {
    prisma: app.prisma,
    subject,
    trace,
    hooks: app.hooks,
    notifyInTransaction: mode === 'transaction',
    ...(app.pools.read !== app.pool ? { readDatabase: pgSql(app.pools.read) } : {}),
    onCommitted: () => {
      app.engine?.wakeAll();
      app.relay?.wake();
      if (mode === 'after-commit') app.notifier.poke();
    },
  };
}
