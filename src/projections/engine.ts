// The projection engine: one runner per projection, each applying batches of outbox
// events in (tx_id, seq) order. A batch is one transaction: lock the checkpoint, read
// the next committed events, apply them, advance the checkpoint, commit. Only then is
// anything published. Woken by NOTIFY after each command commit, with a poll fallback.
import pg from 'pg';
import type { Logger } from 'pino';
import { type Bus, CHANNELS, type ChangeMessage, type PositionMessage } from '../bus/bus.ts';
import { OUTBOX_CHANNEL, type StoredEvent } from '../outbox/append.ts';
import { encodePosition, type Position } from '../outbox/position.ts';
import { readCommitted } from '../outbox/sequencer.ts';
import { advanceCheckpoint, ensureCheckpoints, lockCheckpoint, recordFailure } from './checkpoints.ts';
import { LEASE_CHANNEL, LeaseManager } from './leases.ts';
import type { Projection, ReadModelChange } from './projection.ts';
import { pgSql } from './sql.ts';

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

  constructor(
    private readonly engine: ProjectionEngine,
    readonly projection: Projection,
    private readonly options: Required<Omit<EngineOptions, 'projections' | 'leases'>>,
  ) {
    this.batchLimit = options.batchSize;
    this.idleDelay = options.pollMs;
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
    while (!this.engine.stopping) {
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
      const checkpoint = await lockCheckpoint(sql, name);
      if (!checkpoint) {
        await client.query('ROLLBACK');
        return { kind: 'busy' };
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
      const inline = await client.query<{ seq: string }>(
        `DELETE FROM projection_inline_applied WHERE projection = $1 AND seq = ANY($2::bigint[]) RETURNING seq::text`,
        [name, events.map((e) => e.position.seq.toString())],
      );
      const skipped = new Set(inline.rows.map((r) => r.seq));
      const toApply = skipped.size ? events.filter((e) => !skipped.has(e.position.seq.toString())) : events;
      let changes: ReadModelChange[];
      try {
        changes = await this.projection.apply(sql, toApply);
        if (skipped.size && this.projection.changesFor) {
          changes.push(
            ...(await this.projection.changesFor(
              sql,
              events.filter((e) => skipped.has(e.position.seq.toString())),
            )),
          );
        }
      } catch (error) {
        throw new ApplyError(error, events[0]!.position);
      }
      const last = events.at(-1)!.position;
      await advanceCheckpoint(sql, name, last, toApply.length);
      await client.query('COMMIT');
      this.position = last;
      this.attempts = 0;
      this.batchLimit = this.options.batchSize;
      await this.publish(last, changes);
      return { kind: 'applied', count: events.length, full: events.length === this.batchLimit };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
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
      await recordFailure(sql, name, error.message, single ? error.at : null, stall);
      if (stall) {
        this.attempts = 0;
        this.batchLimit = this.options.batchSize;
        await this.options.bus.publish(CHANNELS.positions, this.positionMessage(error.at)).catch(() => {});
      }
      return { kind: 'retry' };
    } finally {
      client.off('error', onError);
      if (!released) client.release();
    }
  }

  private positionMessage(p: Position): PositionMessage {
    return {
      projection: this.projection.name,
      position: encodePosition(p),
      txId: p.txId.toString(),
      seq: p.seq.toString(),
    };
  }

  private async publish(position: Position, changes: ReadModelChange[]): Promise<void> {
    const { bus, log } = this.options;
    const token = encodePosition(position);
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
      await bus.publish(CHANNELS.positions, this.positionMessage(position));
    } catch (error) {
      // The batch is committed; subscribers recover from positions (resume), so a lost
      // publish costs latency, never data.
      log.warn({ err: error, projection: this.projection.name }, 'publish after commit failed');
    }
    this.engine.onAdvance?.(this.projection.name, position);
  }
}

export class ProjectionEngine {
  stopping = false;
  private readonly runners: Runner[];
  private listener: pg.Client | undefined;
  leases: LeaseManager | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
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
    await this.listen();
    await this.leases?.start();
    for (const runner of this.runners) runner.done = runner.run();
    this.options.log.info({ projections: this.projections.map((p) => p.name) }, 'projection engine started');
  }

  private async listen(): Promise<void> {
    if (this.stopping) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'parallax-listen' });
    client.on('notification', (message) => {
      if (message.channel === LEASE_CHANNEL) void this.leases?.tick();
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
  }

  /** A batch commit ends a transaction that may have held the horizon for the others. */
  wakeOthers(except: Runner): void {
    for (const r of this.runners) if (r !== except) r.wake();
  }

  /** Finishes the batches in flight, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.listenRetry);
    this.wakeAll();
    await Promise.all(this.runners.map((r) => r.done));
    // Batches are done: hand the projections over at once.
    await this.leases?.stop();
    await this.listener?.end().catch(() => {});
    this.options.log.info('projection engine stopped');
  }
}

export type { StoredEvent };
