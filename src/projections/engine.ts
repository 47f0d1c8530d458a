// The projection engine: one runner per projection, each applying batches of outbox
// events in (tx_id, seq) order. A batch is one transaction: lock the checkpoint, read
// the next committed events, apply them, advance the checkpoint, commit. Only then is
// anything published. Woken by NOTIFY after each command commit, with a poll fallback.
import { ROOT_CONTEXT, type Span, SpanStatusCode, type Context as TraceContext, trace } from '@opentelemetry/api';
import pg from 'pg';
import type { Logger } from 'pino';
import {
  type Bus,
  CHANNELS,
  type ChangeMessage,
  type PositionMessage,
  type RebuildProgressMessage,
} from '../bus/bus.ts';
import { pgSql } from '../db/sql.ts';
import type { Metrics } from '../observability/metrics.ts';
import { batchParent, endWithError, tracer } from '../observability/tracing.ts';
import { OUTBOX_CHANNEL, type StoredEvent } from '../outbox/append.ts';
import { encodePosition, type Position } from '../outbox/position.ts';
import { readCommitted } from '../outbox/reader.ts';
import { advanceCheckpoint, ensureCheckpoints, lockCheckpoint, recordFailure } from './checkpoints.ts';
import { LEASE_CHANNEL, LeaseManager } from './leases.ts';
import type { Projection, ReadModelChange } from './projection.ts';
import {
  enterShadow,
  isCurrentRun,
  REBUILD_CHANNEL,
  type RebuildState,
  rebuildOutdated,
  rebuildsInProgress,
  shadowCheckpoint,
  shadowSchema,
  swapIn,
} from './rebuild.ts';

export interface EngineOptions {
  pool: pg.Pool;
  /** For the LISTEN connection, which must not come from the pool. */
  databaseUrl: string;
  log: Logger;
  bus: Bus;
  projections: Projection[];
  batchSize?: number;
  /** Poll fallback when no NOTIFY arrives. */
  pollMs?: number;
  /** Attempts on one event before the projection goes STALLED. */
  maxAttempts?: number;
  retryBaseMs?: number;
  /** Share projections with other projector processes through leases in PostgreSQL. */
  leases?: { owner: string; ttlMs: number };
  /** Batch sizes, durations and failures (observability only). */
  metrics?: Metrics;
}

/** An error thrown by a projection's own code, as opposed to the database going away. */
class ApplyError extends Error {
  constructor(
    readonly original: unknown,
    readonly at: Position,
  ) {
    super(original instanceof Error ? original.message : String(original));
  }
}

type StepResult =
  | { kind: 'applied'; count: number; full: boolean }
  | { kind: 'idle' | 'busy' | 'stalled' | 'retry' | 'unleased' };

class Runner {
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private batchLimit: number;
  private attempts = 0;
  private idleDelay: number;
  done: Promise<void> | undefined;
  position: Position | undefined;

  get runId(): string | undefined {
    return this.rebuildRun?.runId;
  }

  /** Shadow mode builds a rebuild's shadow tables (see rebuild.ts) instead of the live ones. */
  readonly checkpointName: string;
  finished = false;
  private rebuildStartedAt = 0;

  constructor(
    private readonly engine: ProjectionEngine,
    readonly projection: Projection,
    private readonly options: Required<Omit<EngineOptions, 'projections' | 'leases' | 'metrics'>>,
    readonly mode: 'live' | 'shadow' = 'live',
    /** Shadow mode: the rebuild run this runner builds. */
    private readonly rebuildRun?: RebuildState,
  ) {
    this.batchLimit = options.batchSize;
    this.idleDelay = options.pollMs;
    this.checkpointName = mode === 'shadow' ? shadowCheckpoint(projection.name) : projection.name;
    this.rebuildStartedAt = Date.now();
  }

  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        self.pendingWake = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  async run(): Promise<void> {
    while (!this.engine.stopping && !this.finished) {
      let result: StepResult;
      try {
        result = await this.step();
      } catch (error) {
        // Lost connection, database restart: nothing was applied; try again later.
        this.options.log.warn({ err: error, projection: this.projection.name }, 'projection batch failed; retrying');
        result = { kind: 'retry' };
      }
      if (this.engine.stopping) break;
      if (result.kind === 'applied') {
        this.idleDelay = 5;
        this.engine.wakeOthers(this);
        if (result.full) continue;
        await this.sleep(0);
        continue;
      }
      if (result.kind === 'retry') {
        await this.sleep(Math.min(this.options.retryBaseMs * 2 ** Math.min(this.attempts, 6), 5_000));
        continue;
      }
      if (this.mode === 'shadow' && result.kind === 'idle') {
        // Caught up with the committed outbox: try to swap the shadow in.
        try {
          const swap = await swapIn(this.options.pool, this.projection, this.rebuildRun!.runId, this.options.batchSize);
          if (swap === 'gone') this.finished = true;
          if (swap === 'swapped') {
            this.finished = true;
            this.options.log.info({ projection: this.projection.name }, 'rebuild swapped in');
            await this.publishProgress(true);
            this.engine.wakeAll();
            break;
          }
        } catch (error) {
          this.options.log.warn({ err: error, projection: this.projection.name }, 'rebuild swap failed; retrying');
        }
      }
      // Idle: events may exist behind a transaction still running (the horizon), and
      // that transaction's commit will not always NOTIFY; back off from 5 ms to the poll.
      this.idleDelay = Math.min(this.idleDelay * 2, this.options.pollMs);
      await this.sleep(result.kind === 'idle' ? this.idleDelay : this.options.pollMs);
    }
  }

  private async step(): Promise<StepResult> {
    const { pool, log } = this.options;
    const name = this.projection.name;
    const leases = this.engine.leases;
    if (leases && !leases.holds(name)) return { kind: 'unleased' };
    const startedAt = Date.now();
    const started = performance.now();
    let span: Span | undefined;
    const client = await pool.connect();
    // A connection that dies mid-batch emits 'error' on the checked-out client; without
    // a listener that would crash the process. The query in flight fails too, and the
    // batch is retried on a fresh connection.
    const onError = (error: Error) => log.warn({ err: error, projection: name }, 'database connection lost mid-batch');
    client.on('error', onError);
    const sql = pgSql(client);
    let released = false;
    try {
      await client.query('BEGIN');
      const checkpoint = await lockCheckpoint(sql, this.checkpointName);
      if (!checkpoint) {
        await client.query('ROLLBACK');
        return { kind: 'busy' };
      }
      if (this.mode === 'shadow') {
        const run = this.rebuildRun!;
        if (!(await isCurrentRun(client, name, run.runId))) {
          // Swapped in elsewhere, or replaced by a newer run: this runner is done.
          await client.query('ROLLBACK');
          this.finished = true;
          return { kind: 'busy' };
        }
        const schema = shadowSchema(name, run.runId);
        if (checkpoint.state === 'LIVE' && !(await enterShadow(client, schema))) {
          // Never replay into the live tables: the shadow stops, and says why.
          const message = `rebuild schema ${schema} is missing; start the rebuild again`;
          log.error({ projection: name, runId: run.runId }, message);
          await recordFailure(sql, this.checkpointName, message, null, true);
          await client.query('COMMIT');
          return { kind: 'stalled' };
        }
      }
      this.position = checkpoint.position;
      if (leases) {
        // Fencing: the lease must still be ours inside the batch transaction.
        const { rowCount } = await client.query(
          'SELECT 1 FROM projection_leases WHERE name = $1 AND owner = $2 AND expires_at > now()',
          [name, leases.owner],
        );
        if (!rowCount) {
          await client.query('ROLLBACK');
          void leases.tick();
          return { kind: 'unleased' };
        }
      }
      if (checkpoint.state !== 'LIVE') {
        await client.query('ROLLBACK');
        return { kind: 'stalled' };
      }
      const events = await readCommitted(sql, checkpoint.position, this.batchLimit);
      if (events.length === 0) {
        await client.query('ROLLBACK');
        return { kind: 'idle' };
      }
      span = this.startBatchSpan(events, startedAt);
      // Every event is applied here, also those an INLINE projection applied inside their
      // command's transaction: applies are idempotent (each row carries its aggregate
      // version), so those are no-ops, and an INLINE apply that could not apply (its row
      // was behind) is done now, in order. No mark can claim an effect that is not there.
      const last = events.at(-1)!.position;
      let changes: ReadModelChange[] = [];
      try {
        await this.projection.apply(sql, events);
        if (this.mode === 'live' && this.projection.changes) {
          changes = await this.projection.changes(sql, events, checkpoint.position, last);
        }
      } catch (error) {
        throw new ApplyError(error, events[0]!.position);
      }
      await advanceCheckpoint(sql, this.checkpointName, last, events.length);
      await client.query('COMMIT');
      this.position = last;
      this.attempts = 0;
      this.batchLimit = this.options.batchSize;
      this.engine.metrics?.batchSize.observe({ projection: name }, events.length);
      this.engine.metrics?.batchDuration.observe({ projection: name }, (performance.now() - started) / 1000);
      const batchContext = trace.setSpan(ROOT_CONTEXT, span);
      if (this.mode === 'live') await this.publish(last, changes, batchContext, checkpoint.position);
      else await this.publishProgress(false);
      span.setStatus({ code: SpanStatusCode.OK });
      span.end();
      return { kind: 'applied', count: events.length, full: events.length === this.batchLimit };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (span) endWithError(span, error instanceof ApplyError ? error.original : error);
      if (error instanceof ApplyError) this.engine.metrics?.batchFailures.inc({ projection: name });
      if (!(error instanceof ApplyError)) {
        client.release(true);
        released = true;
        throw error;
      }
      this.attempts += 1;
      // Narrow down to the one event that fails, so STALLED names it exactly.
      const single = this.batchLimit === 1;
      this.batchLimit = 1;
      const stall = single && this.attempts >= this.options.maxAttempts;
      log.error(
        {
          err: error.original,
          projection: name,
          attempt: this.attempts,
          txId: String(error.at.txId),
          seq: String(error.at.seq),
          stalled: stall,
        },
        stall ? 'projection stalled' : 'projection failed to apply an event; retrying',
      );
      await recordFailure(sql, this.checkpointName, error.message, single ? error.at : null, stall);
      if (stall) {
        this.attempts = 0;
        this.batchLimit = this.options.batchSize;
        // Subscribers learn of the stall; the position stays the committed checkpoint's
        // (the failing event was not applied), the failing one is a field of its own. A
        // shadow's stall is the rebuild's business: nothing goes out under the live name.
        if (this.mode === 'live' && this.position) {
          const message: PositionMessage = {
            ...this.positionMessage(this.position),
            state: 'STALLED',
            errorPosition: encodePosition(error.at),
          };
          await this.options.bus.publish(CHANNELS.positions, message).catch(() => {});
        }
      }
      return { kind: 'retry' };
    } finally {
      client.off('error', onError);
      if (!released) client.release();
    }
  }

  /**
   * The batch's span: parented to the trace of the commands whose events it applies
   * (see observability/tracing.ts batchParent), started when the batch began.
   */
  private startBatchSpan(events: StoredEvent[], startTime: number): Span {
    const { parent, links } = batchParent(events.map((e) => e.traceContext));
    const first = events[0]!.position;
    const last = events.at(-1)!.position;
    return tracer().startSpan(
      `projection batch ${this.projection.name}`,
      {
        startTime,
        links,
        attributes: {
          'parallax.projection': this.projection.name,
          'parallax.projection.mode': this.mode,
          'parallax.events': events.length,
          'parallax.position.from': encodePosition(first),
          'parallax.position.to': encodePosition(last),
        },
      },
      parent,
    );
  }

  private async publishProgress(done: boolean): Promise<void> {
    const [state] = (await rebuildsInProgress(pgSql(this.options.pool)).catch(() => [])).filter(
      (r) => r.name === this.projection.name,
    );
    const processed = done ? (state?.totalEvents ?? 0) : (state?.processed ?? 0);
    const total = state?.totalEvents ?? processed;
    const elapsed = Date.now() - this.rebuildStartedAt;
    const message: RebuildProgressMessage = {
      projection: this.projection.name,
      processed,
      total,
      etaMs: done || processed === 0 ? 0 : Math.round((elapsed / processed) * Math.max(0, total - processed)),
      done,
    };
    await this.options.bus.publish(CHANNELS.rebuildProgress, message).catch(() => {});
  }

  private positionMessage(p: Position, after?: Position): PositionMessage {
    return {
      projection: this.projection.name,
      position: encodePosition(p),
      txId: p.txId.toString(),
      seq: p.seq.toString(),
      state: 'LIVE',
      ...(after ? { after: encodePosition(after) } : {}),
    };
  }

  /** `after`: where the batch started, so subscribers can tell a batch whose publish was lost. */
  private async publish(
    position: Position,
    changes: ReadModelChange[],
    parent: TraceContext,
    after?: Position,
  ): Promise<void> {
    const { bus, log } = this.options;
    const token = encodePosition(position);
    const span = tracer().startSpan(
      'bus publish',
      { attributes: { 'parallax.projection': this.projection.name, 'parallax.messages': changes.length + 1 } },
      parent,
    );
    try {
      for (const change of changes) {
        const message: ChangeMessage = {
          projection: change.projection,
          position: token,
          key: change.key,
          row: change.row,
        };
        await bus.publish(CHANNELS.readModelChanges, message);
      }
      await bus.publish(CHANNELS.positions, this.positionMessage(position, after));
    } catch (error) {
      // The batch is committed; subscribers recover from positions (resume), so a lost
      // publish costs latency, never data.
      log.warn({ err: error, projection: this.projection.name }, 'publish after commit failed');
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'publish after commit failed' });
    }
    span.end();
    this.engine.onAdvance?.(this.projection.name, position);
  }
}

export class ProjectionEngine {
  stopping = false;
  private readonly runners: Runner[];
  /** One shadow runner per rebuild run (a runner of a replaced run ends by itself). */
  private readonly shadows = new Set<Runner>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private readonly full: Required<Omit<EngineOptions, 'projections' | 'leases' | 'metrics'>>;
  private listener: pg.Client | undefined;
  leases: LeaseManager | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  readonly metrics: Metrics | undefined;
  /** Called after each committed batch (in-process consumers: consistency waits). */
  onAdvance?: (projection: string, position: Position) => void;

  constructor(private readonly options: EngineOptions) {
    const full = {
      batchSize: 200,
      pollMs: 1000,
      maxAttempts: 5,
      retryBaseMs: 50,
      ...options,
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
    await rebuildOutdated(this.options.pool, this.projections);
    await this.listen();
    await this.leases?.start();
    for (const runner of this.runners) runner.done = runner.run();
    await this.syncRebuilds();
    this.options.log.info({ projections: this.projections.map((p) => p.name) }, 'projection engine started');
  }

  private async listen(): Promise<void> {
    if (this.stopping) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'parallax-listen' });
    client.on('notification', (message) => {
      if (message.channel === LEASE_CHANNEL) void this.leases?.tick();
      else if (message.channel === REBUILD_CHANNEL) void this.syncRebuilds();
      else this.wakeAll();
    });
    client.on('error', (error) => {
      this.options.log.warn({ err: error }, 'LISTEN connection lost; polling until it is back');
      client.end().catch(() => {});
      if (this.listener === client) this.listener = undefined;
      this.listenRetry = setTimeout(() => void this.listen().catch(() => {}), 1000);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (this.leases) await client.query(`LISTEN ${LEASE_CHANNEL}`);
      await client.query(`LISTEN ${REBUILD_CHANNEL}`);
      this.listener = client;
      this.wakeAll();
    } catch (error) {
      client.end().catch(() => {});
      this.options.log.warn({ err: error }, 'LISTEN failed; polling');
      this.listenRetry = setTimeout(() => void this.listen().catch(() => {}), 1000);
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

  /** A batch commit ends a transaction that may have held the horizon for the others. */
  wakeOthers(except: Runner): void {
    for (const r of this.runners) if (r !== except) r.wake();
    for (const r of this.shadows) if (r !== except) r.wake();
  }

  /** Finishes the batches in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.listenRetry);
    clearTimeout(this.rebuildTimer);
    this.wakeAll();
    await Promise.all([...this.runners, ...this.shadows].map((r) => r.done));
    // Batches are done: hand the projections over at once.
    await this.leases?.stop();
    await this.listener?.end().catch(() => {});
    this.options.log.info('projection engine stopped');
  }
}

export type { StoredEvent };
