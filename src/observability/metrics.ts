// Prometheus metrics of one process, served at /metrics on every role. Counters and
// histograms are recorded where things happen (commands, GraphQL, engine batches, bus);
// gauges that need the database (positions, lag, state, horizon) are read at scrape
// time through collect(), from the same status queries the `projections` query uses,
// so /metrics and GraphQL never disagree.
import type pg from 'pg';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { type Pools, poolsOf } from '../db/pools.ts';
import { decodePosition } from '../outbox/position.ts';
import type { ProjectionState } from '../projections/checkpoints.ts';
import { type OutboxStatus, outboxStatus, type ProjectionStatus, projectionStatuses } from '../projections/status.ts';

const STATES: ProjectionState[] = ['LIVE', 'REBUILDING', 'STALLED'];
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
/** Operation names come from clients: past this many distinct ones, the rest count as "other". */
const MAX_OPERATION_NAMES = 200;

export type Transport = 'http' | 'sse' | 'ws';

export interface ScrapeSnapshot {
  projections: ProjectionStatus[];
  outbox: OutboxStatus;
}

/** The outbox sequence number inside a position token, as a number a graph can draw. */
function sequenceOf(token: string | null): number {
  if (!token) return 0;
  try {
    return Number(decodePosition(token).seq);
  } catch {
    return 0;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private snapshot: Promise<ScrapeSnapshot | null> | undefined;

  readonly commandDuration = new Histogram({
    name: 'parallax_command_duration_seconds',
    help: 'Command (mutation) latency by mutation and outcome: success or the error type returned.',
    labelNames: ['mutation', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: 'parallax_graphql_operation_duration_seconds',
    help: 'GraphQL operation duration by operation name and type (subscriptions: until the stream is set up).',
    labelNames: ['operation_name', 'operation_type'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly subscriptionsActive = new Gauge({
    name: 'parallax_subscriptions_active',
    help: 'Open subscriptions by root field and transport (sse, ws).',
    labelNames: ['field', 'transport'] as const,
    registers: [this.registry],
  });

  readonly liveGroups = new Gauge({
    name: 'parallax_live_groups',
    help: 'Subscription groups of this process (subscribers sharing one execution; a resume is a group of its own).',
    registers: [this.registry],
  });

  readonly liveDeliveries = new Counter({
    name: 'parallax_live_deliveries_total',
    help: 'Subscription results written to subscribers, by root field and transport.',
    labelNames: ['field', 'transport'] as const,
    registers: [this.registry],
  });

  readonly liveDeliveryLatency = new Histogram({
    name: 'parallax_live_delivery_seconds',
    help: "Commit of a change's batch to its write to the last subscriber of a group (the publisher's and this process's clocks).",
    labelNames: ['field'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly liveQueueDepth = new Histogram({
    name: 'parallax_live_queue_depth',
    help: "Changes waiting in a subscriber's queue, observed each time one is queued (its socket is behind).",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [this.registry],
  });

  readonly liveSlowConsumers = new Counter({
    name: 'parallax_live_slow_consumers_total',
    help: 'Subscribers ended with SLOW_CONSUMER (their queue outgrew LIVE_QUEUE_MAX_CHANGES or LIVE_QUEUE_MAX_BYTES).',
    labelNames: ['field', 'transport'] as const,
    registers: [this.registry],
  });

  readonly liveRefused = new Counter({
    name: 'parallax_live_refused_total',
    help: 'Subscriptions refused by a limit, by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly busPublishFailures = new Counter({
    name: 'parallax_bus_publish_failures_total',
    help: 'Bus publishes that failed (subscribers recover from positions; a failure costs latency, not data).',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'parallax_projection_batch_size',
    help: 'Events per committed projection batch.',
    labelNames: ['projection'] as const,
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry],
  });

  readonly batchDuration = new Histogram({
    name: 'parallax_projection_batch_duration_seconds',
    help: 'Duration of a committed projection batch, from checkpoint lock to commit.',
    labelNames: ['projection'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly batchFailures = new Counter({
    name: 'parallax_projection_apply_failures_total',
    help: 'Batches whose projection code failed (each failure is retried; repeated failures stall the projection).',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  readonly readCache = new Counter({
    name: 'parallax_read_cache_total',
    help: 'Cacheable read-model queries by outcome: hit (answered from the read cache) or miss (executed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly eventsParked = new Counter({
    name: 'parallax_projection_events_parked_total',
    help: 'Events a projection parked because they failed after their retries (events parked behind them not counted).',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  private readonly pools: Pools;

  constructor(
    pool: Pools | pg.Pool,
    private readonly config: Config,
  ) {
    this.pools = poolsOf(pool);
    const self = this;
    const projectionGauge = (name: string, help: string, value: (p: ProjectionStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection'] as const,
        registers: [this.registry],
        collect: async function (this: Gauge<'projection'>) {
          this.reset();
          for (const p of (await self.scrape())?.projections ?? []) this.set({ projection: p.name }, value(p));
        },
      });
    projectionGauge(
      'parallax_projection_position',
      'Outbox sequence number of the last event the projection applied.',
      (p) => sequenceOf(p.position),
    );
    projectionGauge(
      'parallax_projection_lag_events',
      'Committed events the projection has not applied.',
      (p) => p.lagEvents,
    );
    projectionGauge(
      'parallax_projection_lag_seconds',
      'Age of the oldest committed event the projection has not applied (0 when caught up).',
      (p) => p.lagMs / 1000,
    );
    projectionGauge(
      'parallax_projection_retries',
      'Consecutive failed attempts on the current event (reset when a batch commits or on resume).',
      (p) => p.retries,
    );
    projectionGauge(
      'parallax_projection_rebuild_progress_ratio',
      'Share of the outbox a rebuild in progress has applied to its shadow (1 when none is running).',
      (p) => (p.rebuild ? (p.rebuild.total ? p.rebuild.processed / p.rebuild.total : 0) : 1),
    );
    projectionGauge(
      'parallax_projection_parked_events',
      'Events parked for the projection and not yet retried or skipped (see parkedEvents).',
      (p) => p.parkedEvents,
    );
    projectionGauge(
      'parallax_projection_parked_aggregates',
      'Aggregates (orders, customers) the projection holds back because one of their events is parked.',
      (p) => p.parkedAggregates,
    );
    projectionGauge(
      'parallax_projection_unaccounted_events',
      'Outbox events at or below the checkpoint the projection has not accounted for at the last audit (must be 0).',
      (p) => p.audit?.unaccounted ?? 0,
    );
    projectionGauge(
      'parallax_projection_audit_age_seconds',
      'Time since the no-skip audit last checked the projection (-1: never).',
      (p) => (p.audit ? p.audit.ageMs / 1000 : -1),
    );
    projectionGauge(
      'parallax_projection_idle_seconds',
      'While events wait: time since the projection last committed a batch or since the oldest waiting event, whichever is shorter (0 when caught up). A stopped runner shows here.',
      (p) => p.idleMs / 1000,
    );
    new Gauge({
      name: 'parallax_projection_state',
      help: 'Projection state: 1 for the current one of LIVE, REBUILDING, STALLED.',
      labelNames: ['projection', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const p of (await self.scrape())?.projections ?? []) {
          for (const state of STATES) this.set({ projection: p.name, state }, p.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'parallax_outbox_head_position',
      help: 'Outbox sequence number of the newest committed event.',
      registers: [this.registry],
      async collect() {
        const outbox = (await self.scrape())?.outbox;
        this.set(sequenceOf(outbox?.head ?? null));
      },
    });
    new Gauge({
      name: 'parallax_outbox_horizon_holder_age_seconds',
      help: 'Age of the oldest open transaction holding the read horizon back (0 when none).',
      registers: [this.registry],
      async collect() {
        const holder = (await self.scrape())?.outbox.horizonHolders[0];
        this.set(holder ? holder.ageMs / 1000 : 0);
      },
    });
    new Gauge({
      name: 'parallax_metrics_database_up',
      help: '1 when the last scrape could read projection status from the database.',
      registers: [this.registry],
      async collect() {
        this.set((await self.scrape()) ? 1 : 0);
      },
    });
    const poolGauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(value());
        },
      });
    const { write, read } = this.pools;
    poolGauge('parallax_db_pool_in_use', 'Pooled connections checked out.', () => write.totalCount - write.idleCount);
    poolGauge('parallax_db_pool_idle', 'Pooled connections open and idle.', () => write.idleCount);
    poolGauge('parallax_db_pool_waiting', 'Requests waiting for a pooled connection.', () => write.waitingCount);
    if (read !== write) {
      const of = 'of the read database (READ_DATABASE_URL)';
      poolGauge(
        'parallax_read_db_pool_in_use',
        `Pooled connections ${of} checked out.`,
        () => read.totalCount - read.idleCount,
      );
      poolGauge('parallax_read_db_pool_idle', `Pooled connections ${of} open and idle.`, () => read.idleCount);
      poolGauge(
        'parallax_read_db_pool_waiting',
        `Requests waiting for a pooled connection ${of}.`,
        () => read.waitingCount,
      );
    }
  }

  /**
   * One database read per scrape, shared by every gauge collected in it (prom-client
   * collects the metrics of one scrape concurrently).
   */
  private scrape(): Promise<ScrapeSnapshot | null> {
    if (!this.snapshot) {
      this.snapshot = Promise.all([projectionStatuses(this.pools, this.config), outboxStatus(this.pools.write)])
        .then(([projections, outbox]) => ({ projections, outbox }))
        .catch(() => null)
        .finally(() => {
          // Shared only by the collects of the scrape in flight: the next scrape reads again.
          setImmediate(() => {
            this.snapshot = undefined;
          });
        });
    }
    return this.snapshot;
  }

  /** Node.js process metrics (CPU, memory, event loop, GC) too: once per process, from main.ts. */
  collectProcessMetrics(labels: Record<string, string> = {}): void {
    collectDefaultMetrics({ register: this.registry, labels });
  }

  /** The exposition text for /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** A client-chosen operation name as a bounded label value. */
  operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    const clean = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/.test(name) ? name : 'invalid';
    if (this.operationNames.has(clean)) return clean;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(clean);
    return clean;
  }
}
