// Parking: one bad event holds back one aggregate, not a whole read model.
//
// Under the `park` policy (PROJECTION_ON_FAILURE, the default), an event a live
// projection still cannot apply after its retries is parked for that projection: a row
// in parked_events, and the checkpoint moves past it in the same transaction. From then
// on every later event of the same aggregate is parked behind it, in order, so an
// aggregate's events are never applied out of order; every other aggregate keeps
// flowing. Parked events count as accounted for (the no-skip audit, audit.ts).
//
// Events of another aggregate are applied as usual, also where they touch a parked
// aggregate's rows: a customer rename rewrites the name on every row of the customer,
// a parked order's row included. That row keeps the state it had before its parked
// event, with the customer's current name, and a retry brings it to what a
// recomputation gives (each projection reads customer names from its own copies, which
// the rename kept current).
//
// An operator resolves an aggregate's parked events for one projection:
//   - retryParked re-applies them, in order, in one transaction that holds the
//     projection's checkpoint lock (no batch runs meanwhile); it un-parks them only if
//     they all apply, and publishes the rows they changed like a batch would;
//   - skipParked gives them up (a reason is required): nothing is applied, the rows
//     are moved to the last skipped version so the aggregate's later events apply on
//     top (the read model lacks the skipped events' effects, which verify shows), and
//     the row keeps who skipped them, when and why.
// A rebuild's shadow never parks (it stalls: a read model with holes is never swapped
// in); once one is swapped in, the live projection's parked rows are REBUILT.
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import { outboxSql } from '../db/pools.ts';
import { pgSql, type Sql } from '../db/sql.ts';
import type { StoredEvent } from '../outbox/append.ts';
import { encodePosition, type Position } from '../outbox/position.ts';
import { assertDecoded, readAt } from '../outbox/reader.ts';
import { idKey } from './customers.ts';
import type { Projection, ProjectionName } from './projection.ts';
import { BatchPublisher } from './publisher.ts';
import { atVersion, liveVersion } from './shapes.ts';

export type { FailurePolicy } from '../config.ts';
export type ParkReason = 'FAILED' | 'BEHIND';
export type ParkedState = 'PARKED' | 'RETRIED' | 'SKIPPED' | 'REBUILT';

export interface ParkedEvent {
  projection: string;
  position: Position;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventType: string;
  reason: ParkReason;
  error: string | null;
  parkedAt: Date;
  state: ParkedState;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  resolvedRole: string | null;
  resolutionReason: string | null;
  /** The event's stored payload (listings only). */
  payload?: unknown;
}

interface ParkedRow {
  projection: string;
  tx_id: string;
  seq: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  event_type: string;
  reason: ParkReason;
  error: string | null;
  parked_at: Date;
  state: ParkedState;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolved_role: string | null;
  resolution_reason: string | null;
  payload?: unknown;
}

const FIELDS = [
  'projection',
  'tx_id::text AS tx_id',
  'seq::text AS seq',
  'aggregate_type',
  'aggregate_id::text AS aggregate_id',
  'aggregate_version',
  'event_type',
  'reason',
  'error',
  'parked_at',
  'state',
  'resolved_at',
  'resolved_by',
  'resolved_role',
  'resolution_reason',
];
/** The select list, its columns qualified by `table` (the listing joins the outbox, which has some of the same names). */
const columns = (table: string) => FIELDS.map((f) => `${table}.${f}`).join(', ');
const COLUMNS = columns('parked_events');

function toParked(r: ParkedRow): ParkedEvent {
  return {
    projection: r.projection,
    position: { txId: BigInt(r.tx_id), seq: BigInt(r.seq) },
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    aggregateVersion: r.aggregate_version,
    eventType: r.event_type,
    reason: r.reason,
    error: r.error,
    parkedAt: r.parked_at,
    state: r.state,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolvedRole: r.resolved_role,
    resolutionReason: r.resolution_reason,
    ...('payload' in r ? { payload: r.payload } : {}),
  };
}

const aggregateKey = (type: string, id: string) => `${type}:${idKey(id)}`;

/** The aggregates among `events` that have parked events for `projection` ("Type:id" keys). */
export async function parkedAmong(sql: Sql, projection: string, events: readonly StoredEvent[]): Promise<Set<string>> {
  const ids = [...new Set(events.map((e) => idKey(e.aggregateId)))];
  const rows = await sql.query<{ aggregate_type: string; aggregate_id: string }>(
    `SELECT DISTINCT aggregate_type, aggregate_id::text AS aggregate_id FROM parked_events
      WHERE projection = $1 AND state = 'PARKED' AND aggregate_id = ANY($2::uuid[])`,
    [projection, ids],
  );
  return new Set(rows.map((r) => aggregateKey(r.aggregate_type, r.aggregate_id)));
}

/** Splits a batch into the events to apply and those parked behind an earlier parked event of their aggregate. */
export function splitParked(
  events: readonly StoredEvent[],
  parked: Set<string>,
): { apply: StoredEvent[]; behind: StoredEvent[] } {
  if (!parked.size) return { apply: [...events], behind: [] };
  const apply: StoredEvent[] = [];
  const behind: StoredEvent[] = [];
  for (const e of events) (parked.has(aggregateKey(e.aggregateType, e.aggregateId)) ? behind : apply).push(e);
  return { apply, behind };
}

/** Records `events` as parked for `projection` (inside the caller's transaction). */
export async function park(
  sql: Sql,
  projection: string,
  events: readonly StoredEvent[],
  reason: ParkReason,
  error: string | null,
): Promise<void> {
  if (!events.length) return;
  await sql.execute(
    `INSERT INTO parked_events (projection, tx_id, seq, aggregate_type, aggregate_id, aggregate_version, event_type, reason, error)
     SELECT $1, e.tx_id, e.seq, e.aggregate_type, e.aggregate_id, e.aggregate_version, e.event_type, $7, $8
       FROM unnest($2::xid8[], $3::bigint[], $4::text[], $5::uuid[], $6::int[], $9::text[])
            AS e(tx_id, seq, aggregate_type, aggregate_id, aggregate_version, event_type)
     ON CONFLICT (projection, tx_id, seq) DO NOTHING`,
    [
      projection,
      events.map((e) => e.position.txId.toString()),
      events.map((e) => e.position.seq.toString()),
      events.map((e) => e.aggregateType),
      events.map((e) => e.aggregateId),
      events.map((e) => e.aggregateVersion),
      reason,
      error?.slice(0, 2000) ?? null,
      events.map((e) => e.event.type),
    ],
  );
}

/** A parked event of `projections` in the transaction of `position` (a position token's own events), if any. */
export async function parkedAt(
  sql: Sql,
  projections: readonly string[],
  position: Position,
): Promise<ParkedEvent | undefined> {
  const rows = await sql.query<ParkedRow>(
    `SELECT ${COLUMNS} FROM parked_events
      WHERE state = 'PARKED' AND tx_id = $1::xid8 AND seq <= $2::bigint AND projection = ANY($3::text[])
      ORDER BY seq, projection LIMIT 1`,
    [position.txId.toString(), position.seq.toString(), projections],
  );
  return rows[0] ? toParked(rows[0]) : undefined;
}

/**
 * A projection's parked events (or those resolved as `state`), oldest first, with their
 * stored payloads. With a separate read database (`outbox` given) the payloads are read
 * from the write database's outbox in a second query, by position.
 */
export async function listParked(
  sql: Sql,
  projection: string,
  state: ParkedState,
  limit: number,
  outbox?: Sql,
): Promise<ParkedEvent[]> {
  if (!outbox) {
    const rows = await sql.query<ParkedRow>(
      `SELECT ${columns('p')}, o.payload
         FROM parked_events AS p LEFT JOIN outbox AS o ON o.tx_id = p.tx_id AND o.seq = p.seq
        WHERE p.projection = $1 AND p.state = $2
        ORDER BY p.tx_id, p.seq LIMIT $3`,
      [projection, state, limit],
    );
    return rows.map(toParked);
  }
  const rows = await sql.query<ParkedRow>(
    `SELECT ${columns('p')} FROM parked_events AS p
      WHERE p.projection = $1 AND p.state = $2
      ORDER BY p.tx_id, p.seq LIMIT $3`,
    [projection, state, limit],
  );
  if (!rows.length) return [];
  const payloads = await outbox.query<{ tx_id: string; seq: string; payload: unknown }>(
    `SELECT tx_id::text AS tx_id, seq::text AS seq, payload FROM outbox
      WHERE (tx_id, seq) IN (SELECT * FROM unnest($1::xid8[], $2::bigint[]))`,
    [rows.map((r) => r.tx_id), rows.map((r) => r.seq)],
  );
  const byPosition = new Map(payloads.map((p) => [`${p.tx_id}/${p.seq}`, p.payload]));
  return rows.map((r) => toParked({ ...r, payload: byPosition.get(`${r.tx_id}/${r.seq}`) ?? null }));
}

export interface ParkedSummary {
  events: number;
  aggregates: number;
}

/** Per projection, the events still parked and the aggregates they hold back. */
export async function parkedSummaries(sql: Sql): Promise<Map<string, ParkedSummary>> {
  const rows = await sql.query<{ projection: string; events: number; aggregates: number }>(
    `SELECT projection, count(*)::int AS events, count(DISTINCT (aggregate_type, aggregate_id))::int AS aggregates
       FROM parked_events WHERE state = 'PARKED' GROUP BY projection`,
  );
  return new Map(rows.map((r) => [r.projection, { events: r.events, aggregates: r.aggregates }]));
}

/** Once a rebuild's shadow (which applied every event) is swapped in, nothing of the projection is parked. */
export async function resolveByRebuild(sql: Sql, projection: string): Promise<void> {
  await sql.execute(
    `UPDATE parked_events SET state = 'REBUILT', resolved_at = now(), resolution_reason = 'applied by a rebuild'
      WHERE projection = $1 AND state = 'PARKED'`,
    [projection],
  );
}

/** An aggregate's parked events that still fail when retried: they stay parked. */
export class RetryFailed extends Error {
  override name = 'RetryFailed';
  constructor(
    readonly projection: string,
    readonly aggregateId: string,
    override readonly cause: unknown,
  ) {
    super(
      `the parked events of ${aggregateId} in ${projection} still fail: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

export interface Resolution {
  projection: ProjectionName;
  aggregateType: string;
  aggregateId: string;
  /** The events resolved, oldest first. */
  events: ParkedEvent[];
}

export interface ResolveOptions {
  /** The read database, where the checkpoint and the parked rows are. */
  pool: pg.Pool;
  /** The write database, when the read models live in another one. */
  outboxPool?: pg.Pool;
  bus: Bus;
  log: Logger;
  projection: Projection;
  aggregateId: string;
  action: 'retry' | 'skip';
  actor: string;
  role: string;
  reason: string | null;
}

/**
 * Retries or skips the parked events of one aggregate for one projection (see the top
 * of this file). Undefined when the aggregate has nothing parked there.
 */
export async function resolveParked(options: ResolveOptions): Promise<Resolution | undefined> {
  const { pool, projection, aggregateId, action } = options;
  const client = await pool.connect();
  const sql = pgSql(client);
  let released = false;
  try {
    await client.query('BEGIN');
    // The checkpoint's row lock: no batch of this projection runs until this commits, so
    // none can park a later event of the aggregate while its earlier ones are re-applied.
    const checkpoint = await sql.query<{ tx_id: string; seq: string }>(
      'SELECT tx_id::text AS tx_id, seq::text AS seq FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
      [projection.name],
    );
    const rows = (
      await sql.query<ParkedRow>(
        `SELECT ${COLUMNS} FROM parked_events
          WHERE projection = $1 AND aggregate_id = $2::uuid AND state = 'PARKED'
          ORDER BY parked_events.tx_id, parked_events.seq FOR UPDATE`,
        [projection.name, aggregateId],
      )
    ).map(toParked);
    if (!rows.length || !checkpoint[0]) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const at: Position = { txId: BigInt(checkpoint[0].tx_id), seq: BigInt(checkpoint[0].seq) };
    const events = await readAt(
      outboxSql(sql, options.outboxPool),
      rows.map((r) => r.position),
    );
    let changes: Awaited<ReturnType<NonNullable<Projection['changes']>>> = [];
    if (action === 'retry') {
      try {
        if (events.length !== rows.length) throw new Error('some parked events are no longer in the outbox');
        assertDecoded(events);
        // In the live tables' shape (see shapes.ts), under the checkpoint lock.
        const version = await liveVersion(sql, projection);
        if (version > projection.version) {
          throw new Error(`${projection.name} is at version ${version}, newer than this code's ${projection.version}`);
        }
        const target = atVersion(sql, projection.name, version);
        await projection.apply(target, events);
        // Published at the checkpoint's position, like a batch that ends there: the rows
        // carry their own events' (older) positions.
        if (projection.changes) changes = await projection.changes(target, events, at, at);
      } catch (error) {
        await client.query('ROLLBACK');
        throw new RetryFailed(projection.name, aggregateId, error);
      }
    } else {
      await projection.skip?.(sql, events);
    }
    await sql.execute(
      `UPDATE parked_events
          SET state = $3, resolved_at = now(), resolved_by = $4, resolved_role = $5, resolution_reason = $6
        WHERE projection = $1 AND aggregate_id = $2::uuid AND state = 'PARKED'`,
      [
        projection.name,
        aggregateId,
        action === 'retry' ? 'RETRIED' : 'SKIPPED',
        options.actor,
        options.role,
        options.reason,
      ],
    );
    await client.query('COMMIT');
    const level = action === 'skip' ? 'warn' : 'info';
    options.log[level](
      {
        projection: projection.name,
        aggregateId,
        events: rows.length,
        actor: options.actor,
        role: options.role,
        reason: options.reason,
        from: encodePosition(rows[0]!.position),
      },
      action === 'retry' ? 'parked events retried' : 'parked events skipped',
    );
    if (changes.length) {
      await new BatchPublisher(options.bus, options.log, projection.name).batch(at, changes, ROOT_CONTEXT, at);
    }
    return {
      projection: projection.name,
      aggregateType: rows[0]!.aggregateType,
      aggregateId,
      events: rows.map((r) => ({ ...r, state: action === 'retry' ? 'RETRIED' : 'SKIPPED' })),
    };
  } catch (error) {
    if (!(error instanceof RetryFailed)) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      released = true;
    }
    throw error;
  } finally {
    if (!released) client.release();
  }
}
