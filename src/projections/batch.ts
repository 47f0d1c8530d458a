// One batch of one runner, as one transaction: lock the checkpoint (SKIP LOCKED: the
// compare-and-set that keeps two workers from applying the same batch), check the run
// (shadow) and the lease (fencing), read the next committed events, apply them, collect
// the rows subscribers must hear of, advance the checkpoint, commit. Nothing is
// published here: the runner publishes after the commit.
import type { Span } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import { outboxSql } from '../db/pools.ts';
import { pgSql } from '../db/sql.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';
import { assertDecoded, readCommitted } from '../outbox/reader.ts';
import { advanceCheckpoint, lockCheckpoint, recordFailure } from './checkpoints.ts';
import { leaseHeld } from './leases.ts';
import { park, parkedAmong, splitParked } from './parking.ts';
import type { Projection, ReadModelChange } from './projection.ts';
import { openShadowBatch, type RebuildState, shadowSchema } from './rebuild.ts';
import { atVersion, liveVersion } from './shapes.ts';

/** An error thrown by a projection's own code, as opposed to the database going away. */
export class ApplyError extends Error {
  constructor(
    readonly original: unknown,
    readonly at: Position,
  ) {
    super(original instanceof Error ? original.message : String(original));
  }
}

export interface BatchSpec {
  projection: Projection;
  checkpointName: string;
  mode: 'live' | 'shadow';
  /** Shadow mode: the rebuild run it builds. */
  run?: RebuildState;
  /** With leases: this process's owner id (fencing). */
  owner?: string;
  limit: number;
  log: Logger;
  /** The batch's span, started once its events are known. */
  startSpan(events: StoredEvent[]): Span;
  /** The write database, when the read models live in another one (READ_DATABASE_URL). */
  outboxPool?: pg.Pool;
}

export type BatchResult =
  | {
      kind: 'applied';
      count: number;
      /** Events parked behind an earlier parked event of their aggregate (see parking.ts). */
      parked: number;
      from: Position;
      to: Position;
      changes: ReadModelChange[];
    }
  | { kind: 'idle' | 'busy' | 'stalled' | 'unleased' | 'gone' }
  /** The read model is at a version newer than this code's: a newer process applies it (see shapes.ts). */
  | { kind: 'outdated'; version: number };

/** What the runner learns even when the batch fails: the checkpoint it started from, the span. */
export interface BatchTrace {
  checkpoint?: Position;
  span?: Span;
}

/** Runs one batch on `client`; an ApplyError is the projection's own failure (the transaction is rolled back by the caller). */
export async function runBatch(client: pg.ClientBase, spec: BatchSpec, trace: BatchTrace): Promise<BatchResult> {
  const { projection, checkpointName } = spec;
  const sql = pgSql(client);
  await client.query('BEGIN');
  const checkpoint = await lockCheckpoint(sql, checkpointName);
  if (!checkpoint) {
    await client.query('ROLLBACK');
    return { kind: 'busy' };
  }
  if (spec.mode === 'shadow') {
    const run = spec.run!;
    const opened = await openShadowBatch(client, projection.name, run.runId, checkpoint);
    if (opened === 'gone') {
      await client.query('ROLLBACK');
      return { kind: 'gone' };
    }
    if (opened === 'missing') {
      const message = `rebuild schema ${shadowSchema(projection.name, run.runId)} is missing; start the rebuild again`;
      spec.log.error({ projection: projection.name, runId: run.runId }, message);
      await recordFailure(sql, checkpointName, message, null, true);
      await client.query('COMMIT');
      return { kind: 'stalled' };
    }
  }
  trace.checkpoint = checkpoint.position;
  if (spec.owner !== undefined && !(await leaseHeld(client, projection.name, spec.owner))) {
    await client.query('ROLLBACK');
    return { kind: 'unleased' };
  }
  if (checkpoint.state !== 'LIVE') {
    await client.query('ROLLBACK');
    return { kind: 'stalled' };
  }
  // The table shape this batch writes (see shapes.ts): a shadow's is its rebuild's
  // version, the live tables' is the live version, read under the checkpoint lock that
  // the swap holds too. Code older than that version leaves the batch to newer code.
  const version = spec.mode === 'shadow' ? spec.run!.version : await liveVersion(sql, projection);
  if (version > projection.version) {
    await client.query('ROLLBACK');
    return { kind: 'outdated', version };
  }
  const target = atVersion(sql, projection.name, version);
  // With a separate read database the outbox is read from the write database, and the
  // horizon is the write database's; the checkpoint moves in this transaction all the same.
  const events = await readCommitted(outboxSql(sql, spec.outboxPool), checkpoint.position, spec.limit);
  if (events.length === 0) {
    await client.query('ROLLBACK');
    return { kind: 'idle' };
  }
  trace.span = spec.startSpan(events);
  // Every event is applied here, also those an INLINE projection applied inside their
  // command's transaction: applies are idempotent (each row carries its aggregate
  // version), so those are no-ops, and an INLINE apply that could not apply (its row
  // was behind) is done now, in order. No mark can claim an effect that is not there.
  const to = events.at(-1)!.position;
  // A live projection parks every event of an aggregate that has a parked event (its
  // order is never broken); a shadow applies everything (a rebuild never parks).
  const { apply, behind } =
    spec.mode === 'live'
      ? splitParked(events, await parkedAmong(sql, projection.name, events))
      : { apply: events, behind: [] };
  await park(sql, projection.name, behind, 'BEHIND', null);
  let changes: ReadModelChange[] = [];
  try {
    // A payload that cannot be decoded fails here like an event the projection cannot
    // apply: narrowed down to that event, retried, then parked or STALLED with its error.
    assertDecoded(apply);
    if (apply.length) await projection.apply(target, apply);
    if (spec.mode === 'live' && projection.changes && apply.length) {
      changes = await projection.changes(target, apply, checkpoint.position, to);
    }
  } catch (error) {
    throw new ApplyError(error, apply[0]!.position);
  }
  await advanceCheckpoint(sql, checkpointName, to, events.length);
  await client.query('COMMIT');
  return { kind: 'applied', count: events.length, parked: behind.length, from: checkpoint.position, to, changes };
}
