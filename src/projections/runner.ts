// One runner per projection (and one per rebuild run, in shadow mode): a loop of
// batches (batch.ts) that sleeps when idle and wakes on NOTIFY, publishes after each
// commit (publisher.ts), backs off and stalls on failures (failures.ts), and, in shadow
// mode, swaps the shadow in once it has caught up (rebuild.ts).
import { ROOT_CONTEXT, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import { outboxSql } from '../db/pools.ts';
import { pgSql } from '../db/sql.ts';
import type { Metrics } from '../observability/metrics.ts';
import { batchParent, endWithError, tracer } from '../observability/tracing.ts';
import type { StoredEvent } from '../outbox/append.ts';
import { comparePositions, encodePosition, type Position } from '../outbox/position.ts';
import { readCommitted } from '../outbox/reader.ts';
import { Sleeper } from '../sleeper.ts';
import { ApplyError, type BatchResult, type BatchTrace, runBatch } from './batch.ts';
import { advanceCheckpoint, lockCheckpoint } from './checkpoints.ts';
import { Failures } from './failures.ts';
import { type LeaseManager, leaseHeld } from './leases.ts';
import { type FailurePolicy, park } from './parking.ts';
import type { Projection } from './projection.ts';
import { BatchPublisher } from './publisher.ts';
import { buildDeferredIndexes, type RebuildState, shadowCheckpoint, swapIn } from './rebuild.ts';

export interface RunnerOptions {
  /** Where batches commit: the read database. */
  pool: pg.Pool;
  /** The write database, when the read models live in another one (READ_DATABASE_URL). */
  outboxPool?: pg.Pool;
  log: Logger;
  bus: Bus;
  batchSize: number;
  /** Largest batch while catching up (full batches double the next one up to this). */
  maxBatchSize?: number;
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** What a live projection does with an event it cannot apply after maxAttempts. */
  onFailure: (projection: string) => FailurePolicy;
}

/** What a runner needs from its engine. */
export interface RunnerHost {
  readonly stopping: boolean;
  readonly leases: LeaseManager | undefined;
  readonly metrics: Metrics | undefined;
  wakeAll(): void;
  wakeOthers(except: Runner): void;
  onAdvance?: (projection: string, position: Position) => void;
}

type StepResult = BatchResult | { kind: 'retry' };

export class Runner {
  private readonly sleeper = new Sleeper();
  private idleDelay: number;
  private readonly failures: Failures;
  private readonly publisher: BatchPublisher;
  /** Shadow mode builds a rebuild's shadow tables (see rebuild.ts) instead of the live ones. */
  readonly checkpointName: string;
  done: Promise<void> | undefined;
  /** The committed checkpoint as this runner last saw it. */
  position: Position | undefined;
  finished = false;
  /** The last batch read as many events as it asked for: more are waiting. */
  private lastBatchFull = false;
  /** The read model was found at a newer version than this code's (said once). */
  private outdatedLogged = false;

  constructor(
    private readonly host: RunnerHost,
    readonly projection: Projection,
    private readonly options: RunnerOptions,
    readonly mode: 'live' | 'shadow' = 'live',
    /** Shadow mode: the rebuild run this runner builds. */
    private readonly rebuildRun?: RebuildState,
  ) {
    this.idleDelay = options.pollMs;
    this.checkpointName = mode === 'shadow' ? shadowCheckpoint(projection.name) : projection.name;
    this.failures = new Failures(options, options.log, projection.name);
    this.publisher = new BatchPublisher(options.bus, options.log, projection.name);
  }

  get runId(): string | undefined {
    return this.rebuildRun?.runId;
  }

  wake(): void {
    this.sleeper.wake();
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  async run(): Promise<void> {
    while (!this.host.stopping && !this.finished) {
      let result: StepResult;
      try {
        result = await this.step();
      } catch (error) {
        // Lost connection, database restart: nothing was applied; try again later.
        this.options.log.warn({ err: error, projection: this.projection.name }, 'projection batch failed; retrying');
        result = { kind: 'retry' };
      }
      if (this.host.stopping) break;
      if (result.kind === 'gone') this.finished = true;
      if (result.kind === 'outdated' && !this.outdatedLogged) {
        this.outdatedLogged = true;
        this.options.log.warn(
          { projection: this.projection.name, version: result.version, codeVersion: this.projection.version },
          'read model is at a newer version than this code; leaving it to processes that run that version',
        );
      }
      if (result.kind === 'applied') {
        this.idleDelay = 5;
        this.host.wakeOthers(this);
        if (this.lastBatchFull) continue;
        await this.sleep(0);
        continue;
      }
      if (result.kind === 'retry') {
        await this.sleep(this.failures.backoffMs());
        continue;
      }
      if (this.mode === 'shadow' && result.kind === 'idle' && (await this.trySwap())) break;
      // Idle: events may exist behind a transaction still running (the horizon), and
      // that transaction's commit will not always NOTIFY; back off from 5 ms to the poll.
      this.idleDelay = Math.min(this.idleDelay * 2, this.options.pollMs);
      await this.sleep(result.kind === 'idle' ? this.idleDelay : this.options.pollMs);
    }
  }

  /** A shadow caught up with the committed outbox: swap it in. True when this runner is done. */
  private async trySwap(): Promise<boolean> {
    try {
      const built = await buildDeferredIndexes(this.options.pool, this.projection, this.rebuildRun!.runId);
      if (built) this.options.log.info({ projection: this.projection.name, indexes: built }, 'rebuild indexes built');
      const swap = await swapIn(
        this.options.pool,
        this.projection,
        this.rebuildRun!.runId,
        this.options.batchSize,
        this.options.outboxPool,
      );
      if (swap === 'gone') this.finished = true;
      if (swap === 'swapped') {
        this.finished = true;
        this.options.log.info({ projection: this.projection.name }, 'rebuild swapped in');
        await this.publisher.progress(this.options.pool, true);
        this.host.wakeAll();
        return true;
      }
    } catch (error) {
      this.options.log.warn({ err: error, projection: this.projection.name }, 'rebuild swap failed; retrying');
    }
    return false;
  }

  private async step(): Promise<StepResult> {
    const { pool, log } = this.options;
    const name = this.projection.name;
    const leases = this.host.leases;
    if (leases && !leases.holds(name)) return { kind: 'unleased' };
    const startedAt = Date.now();
    const started = performance.now();
    const batch: BatchTrace = {};
    const client = await pool.connect();
    // A connection that dies mid-batch emits 'error' on the checked-out client; without
    // a listener that would crash the process. The query in flight fails too, and the
    // batch is retried on a fresh connection.
    const onError = (error: Error) => log.warn({ err: error, projection: name }, 'database connection lost mid-batch');
    client.on('error', onError);
    let released = false;
    try {
      const result = await runBatch(
        client,
        {
          projection: this.projection,
          checkpointName: this.checkpointName,
          mode: this.mode,
          ...(this.rebuildRun ? { run: this.rebuildRun } : {}),
          ...(leases ? { owner: leases.owner } : {}),
          limit: this.failures.limit,
          log,
          startSpan: (events) => this.startBatchSpan(events, startedAt),
          ...(this.options.outboxPool ? { outboxPool: this.options.outboxPool } : {}),
        },
        batch,
      );
      if (batch.checkpoint) this.position = batch.checkpoint;
      if (result.kind === 'unleased') void leases?.tick();
      if (result.kind !== 'applied') return result;
      this.position = result.to;
      this.lastBatchFull = result.count >= this.failures.limit;
      this.failures.succeeded(result.count);
      this.host.metrics?.batchSize.observe({ projection: name }, result.count);
      this.host.metrics?.batchDuration.observe({ projection: name }, (performance.now() - started) / 1000);
      const span = batch.span!;
      if (this.mode === 'live') {
        await this.publisher.batch(result.to, result.changes, trace.setSpan(ROOT_CONTEXT, span), result.from);
        this.host.onAdvance?.(name, result.to);
      } else await this.publisher.progress(pool, false);
      span.setStatus({ code: SpanStatusCode.OK });
      span.end();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (batch.checkpoint) this.position = batch.checkpoint;
      if (batch.span) endWithError(batch.span, error instanceof ApplyError ? error.original : error);
      if (!(error instanceof ApplyError)) {
        client.release(true);
        released = true;
        throw error;
      }
      this.host.metrics?.batchFailures.inc({ projection: name });
      // A rebuild's shadow always stalls: a read model with holes is never swapped in.
      const policy = this.mode === 'live' ? this.options.onFailure(name) : 'stall';
      const outcome = await this.failures.applyFailed(pgSql(client), this.checkpointName, error, policy);
      if (outcome === 'park') {
        try {
          return await this.parkFailed(client, error);
        } catch (parkError) {
          client.release(true);
          released = true;
          throw parkError;
        }
      }
      // Subscribers learn of the stall; a shadow's stall is the rebuild's business:
      // nothing goes out under the live name.
      if (outcome === 'stall' && this.mode === 'live' && this.position) {
        await this.publisher.stall(this.position, error.at);
      }
      return { kind: 'retry' };
    } finally {
      client.off('error', onError);
      if (!released) client.release();
    }
  }

  /**
   * Parks the event that failed (policy `park`, see parking.ts): in one transaction, a
   * parked row and the checkpoint moved past it, then the new position is published
   * like a batch's. Only if the checkpoint still stands just before that event, under
   * the same checks as a batch (row lock, LIVE, lease); otherwise the next batch decides.
   */
  private async parkFailed(client: pg.PoolClient, error: ApplyError): Promise<StepResult> {
    const name = this.projection.name;
    const sql = pgSql(client);
    const leases = this.host.leases;
    await client.query('BEGIN');
    const checkpoint = await lockCheckpoint(sql, this.checkpointName);
    const [event] = checkpoint
      ? await readCommitted(outboxSql(sql, this.options.outboxPool), checkpoint.position, 1)
      : [];
    const ours = !leases || (await leaseHeld(client, name, leases.owner));
    if (checkpoint?.state !== 'LIVE' || !ours || !event || comparePositions(event.position, error.at)) {
      await client.query('ROLLBACK');
      return { kind: 'retry' };
    }
    await park(sql, name, [event], 'FAILED', error.message);
    await advanceCheckpoint(sql, this.checkpointName, event.position, 1);
    await client.query('COMMIT');
    this.failures.succeeded();
    this.lastBatchFull = true;
    this.position = event.position;
    this.host.metrics?.eventsParked.inc({ projection: name });
    this.options.log.warn(
      {
        projection: name,
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        txId: String(event.position.txId),
        seq: String(event.position.seq),
      },
      'event parked; its aggregate is held back, everything else goes on',
    );
    await this.publisher.batch(event.position, [], ROOT_CONTEXT, checkpoint.position);
    this.host.onAdvance?.(name, event.position);
    return { kind: 'applied', count: 1, parked: 1, from: checkpoint.position, to: event.position, changes: [] };
  }

  /**
   * The batch's span: parented to the trace of the commands whose events it applies
   * (see observability/tracing.ts batchParent), started when the batch began.
   */
  private startBatchSpan(events: StoredEvent[], startTime: number): Span {
    const { parent, links } = batchParent(events.map((e) => e.traceContext));
    return tracer().startSpan(
      `projection batch ${this.projection.name}`,
      {
        startTime,
        links,
        attributes: {
          'parallax.projection': this.projection.name,
          'parallax.projection.mode': this.mode,
          'parallax.events': events.length,
          'parallax.position.from': encodePosition(events[0]!.position),
          'parallax.position.to': encodePosition(events.at(-1)!.position),
        },
      },
      parent,
    );
  }
}
