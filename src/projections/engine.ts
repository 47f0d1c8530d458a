// The projection engine: one runner per projection (runner.ts), each applying batches
// of outbox events in (tx_id, seq) order, one transaction per batch (batch.ts); only
// after the commit is anything published (publisher.ts). Leases share the projections
// between projector processes (leases.ts); rebuilds run as shadow runners (rebuild.ts).
// The engine starts them, wakes them on NOTIFY after each command commit (with a poll
// fallback) and stops them.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import { PROJECTION_BATCH_SIZE } from '../config.ts';
import { pgSql } from '../db/sql.ts';
import type { Metrics } from '../observability/metrics.ts';
import { OUTBOX_CHANNEL } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';
import { type AuditResult, auditProjection } from './audit.ts';
import { ensureCheckpoints } from './checkpoints.ts';
import { LEASE_CHANNEL, LeaseManager } from './leases.ts';
import type { FailurePolicy } from './parking.ts';
import type { Projection } from './projection.ts';
import { REBUILD_CHANNEL, rebuildOutdated, rebuildsInProgress } from './rebuild.ts';
import { Runner, type RunnerHost, type RunnerOptions } from './runner.ts';

export interface EngineOptions {
  /** Where batches, checkpoints, leases and rebuilds are: the read database. */
  pool: pg.Pool;
  /** For the LISTEN connection (leases, rebuilds; and commits with one database), which must not come from the pool. */
  databaseUrl: string;
  /**
   * The write database, when the read models live in another one (READ_DATABASE_URL):
   * the outbox is read from it, and its commits are heard on a LISTEN connection to it.
   */
  outbox?: { pool: pg.Pool; databaseUrl: string };
  log: Logger;
  bus: Bus;
  projections: Projection[];
  batchSize?: number;
  /** Largest batch while catching up (default 8 × batchSize): full batches double the next one. */
  maxBatchSize?: number;
  /** Poll fallback when no NOTIFY arrives. */
  pollMs?: number;
  /** Attempts on one event before the projection goes STALLED. */
  maxAttempts?: number;
  retryBaseMs?: number;
  /** Share projections with other projector processes through leases in PostgreSQL. */
  leases?: { owner: string; ttlMs: number };
  /** Batch sizes, durations and failures (observability only). */
  metrics?: Metrics;
  /** After maxAttempts on one event: park it (the default) or stall; one policy, or one per projection. */
  onFailure?: FailurePolicy | ((projection: string) => FailurePolicy);
  /** How often the no-skip audit runs (audit.ts); default 30 s. */
  auditMs?: number;
}

export class ProjectionEngine implements RunnerHost {
  stopping = false;
  private readonly runners: Runner[];
  /** One shadow runner per rebuild run (a runner of a replaced run ends by itself). */
  private readonly shadows = new Set<Runner>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private auditTimer: NodeJS.Timeout | undefined;
  private readonly full: RunnerOptions;
  private readonly listeners = new Map<string, pg.Client>();
  leases: LeaseManager | undefined;
  private readonly listenRetries = new Set<NodeJS.Timeout>();
  readonly metrics: Metrics | undefined;
  /** Called after each committed batch (in-process consumers: consistency waits). */
  onAdvance?: (projection: string, position: Position) => void;

  constructor(private readonly options: EngineOptions) {
    const policy: FailurePolicy = typeof options.onFailure === 'string' ? options.onFailure : 'park';
    const full: RunnerOptions = {
      pool: options.pool,
      ...(options.outbox ? { outboxPool: options.outbox.pool } : {}),
      log: options.log,
      bus: options.bus,
      batchSize: options.batchSize ?? PROJECTION_BATCH_SIZE,
      maxBatchSize: options.maxBatchSize ?? 8 * (options.batchSize ?? PROJECTION_BATCH_SIZE),
      pollMs: options.pollMs ?? 1000,
      maxAttempts: options.maxAttempts ?? 5,
      retryBaseMs: options.retryBaseMs ?? 50,
      onFailure: typeof options.onFailure === 'function' ? options.onFailure : () => policy,
    };
    this.full = full;
    this.metrics = options.metrics;
    this.runners = options.projections.map((p) => new Runner(this, p, full));
    if (options.leases) {
      this.leases = new LeaseManager({
        pool: options.pool,
        owner: options.leases.owner,
        ttlMs: options.leases.ttlMs,
        names: options.projections.map((p) => p.name),
        log: options.log,
        onChange: (held) => {
          options.log.info({ owner: options.leases!.owner, held: [...held].sort() }, 'projection leases changed');
          this.wakeAll();
        },
      });
    }
  }

  get projections(): Projection[] {
    return this.runners.map((r) => r.projection);
  }

  async start(): Promise<void> {
    await ensureCheckpoints(
      pgSql(this.options.pool),
      this.projections.map((p) => p.name),
    );
    await rebuildOutdated(this.options.pool, this.projections, this.options.outbox?.pool);
    const own = [...(this.leases ? [LEASE_CHANNEL] : []), REBUILD_CHANNEL];
    if (this.options.outbox) {
      await this.listen(this.options.outbox.databaseUrl, [OUTBOX_CHANNEL]);
      await this.listen(this.options.databaseUrl, own);
    } else await this.listen(this.options.databaseUrl, [OUTBOX_CHANNEL, ...own]);
    await this.leases?.start();
    for (const runner of this.runners) runner.done = runner.run();
    await this.syncRebuilds();
    this.scheduleAudit();
    this.options.log.info({ projections: this.projections.map((p) => p.name) }, 'projection engine started');
  }

  /** LISTENs on `channels` of the database at `url`, reconnecting (and polling meanwhile) when the connection drops. */
  private async listen(url: string, channels: string[]): Promise<void> {
    if (this.stopping) return;
    const key = channels.join(',');
    const retry = () => {
      const timer = setTimeout(() => {
        this.listenRetries.delete(timer);
        void this.listen(url, channels).catch(() => {});
      }, 1000);
      this.listenRetries.add(timer);
    };
    const client = new pg.Client({ connectionString: url, application_name: 'parallax-listen' });
    client.on('notification', (message) => {
      if (message.channel === LEASE_CHANNEL) void this.leases?.tick();
      else if (message.channel === REBUILD_CHANNEL) void this.syncRebuilds();
      else this.wakeAll();
    });
    client.on('error', (error) => {
      this.options.log.warn({ err: error, channels }, 'LISTEN connection lost; polling until it is back');
      client.end().catch(() => {});
      if (this.listeners.get(key) === client) this.listeners.delete(key);
      retry();
    });
    try {
      await client.connect();
      for (const channel of channels) await client.query(`LISTEN ${channel}`);
      this.listeners.set(key, client);
      this.wakeAll();
    } catch (error) {
      client.end().catch(() => {});
      this.options.log.warn({ err: error, channels }, 'LISTEN failed; polling');
      retry();
    }
  }

  wakeAll(): void {
    for (const r of this.runners) r.wake();
    for (const r of this.shadows) r.wake();
  }

  /** Runs a shadow runner for each rebuild in progress (the lease decides where it works). */
  async syncRebuilds(): Promise<void> {
    clearTimeout(this.rebuildTimer);
    if (this.stopping) return;
    try {
      const rebuilds = await rebuildsInProgress(pgSql(this.options.pool));
      for (const r of rebuilds) {
        const projection = this.projections.find((p) => p.name === r.name);
        if (!projection || [...this.shadows].some((s) => s.runId === r.runId)) continue;
        const shadow = new Runner(this, projection, this.full, 'shadow', r);
        this.shadows.add(shadow);
        shadow.done = shadow.run().finally(() => this.shadows.delete(shadow));
        this.options.log.info({ projection: r.name, reason: r.reason }, 'rebuilding in a shadow');
      }
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not read rebuilds');
    }
    this.rebuildTimer = setTimeout(() => void this.syncRebuilds(), 2_000);
  }

  /** The no-skip audit (audit.ts) of the projections this process runs, every auditMs. */
  private scheduleAudit(): void {
    if (this.stopping) return;
    this.auditTimer = setTimeout(() => {
      void this.audit().finally(() => this.scheduleAudit());
    }, this.options.auditMs ?? 30_000);
    this.auditTimer.unref();
  }

  /** Audits every projection this process holds; an event unaccounted for is logged as an error. */
  async audit(): Promise<AuditResult[]> {
    const results: AuditResult[] = [];
    for (const runner of this.runners) {
      const name = runner.projection.name;
      if (this.leases && !this.leases.holds(name)) continue;
      try {
        const outbox = this.options.outbox ? pgSql(this.options.outbox.pool) : undefined;
        const result = await auditProjection(pgSql(this.options.pool), name, outbox);
        if (!result) continue;
        results.push(result);
        if (result.unaccounted !== 0) {
          this.options.log.error(
            { projection: name, outboxEvents: result.outboxEvents, accounted: result.accounted },
            `no-skip audit: ${result.unaccounted} events at or below the checkpoint are not accounted for`,
          );
        }
      } catch (error) {
        this.options.log.warn({ err: error, projection: name }, 'no-skip audit failed; trying again next period');
      }
    }
    return results;
  }

  /** A batch commit ends a transaction that may have held the horizon for the others. */
  wakeOthers(except: Runner): void {
    for (const r of this.runners) if (r !== except) r.wake();
    for (const r of this.shadows) if (r !== except) r.wake();
  }

  /** Finishes the batches in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.listenRetries) clearTimeout(timer);
    clearTimeout(this.rebuildTimer);
    clearTimeout(this.auditTimer);
    this.wakeAll();
    await Promise.all([...this.runners, ...this.shadows].map((r) => r.done));
    // Batches are done: hand the projections over at once.
    await this.leases?.stop();
    await Promise.all([...this.listeners.values()].map((l) => l.end().catch(() => {})));
    this.options.log.info('projection engine stopped');
  }
}
