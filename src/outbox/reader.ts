// Reads committed outbox rows in one gap-free total order: (tx_id, seq).
//
// Why this cannot skip an event: a row's tx_id is the id of the transaction that
// inserted it. Only rows whose tx_id is below the xmin of the reader's snapshot are
// read, and every transaction below xmin has finished: it committed (its rows are
// visible now and forever) or rolled back (its rows never will be). A transaction
// that is still running has an id >= xmin, and one that has not started yet will get
// a larger id than any we have seen. So when the reader moves its checkpoint past
// (tx_id, seq), no row can later appear before that point. No timeouts, no guessing.
// The cost: one long transaction anywhere in the cluster holds every reader at its
// xmin (see horizonHolder).

import type { Sql } from '../db/sql.ts';
import type { DomainEvent } from '../events/events.ts';
import { upcast, upcastProblem } from '../events/upcasters.ts';
import type { StoredEvent } from './append.ts';
import type { Position } from './position.ts';

interface OutboxRow {
  seq: string;
  tx_id: string;
  event_id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  schema_version: number;
  payload: unknown;
  occurred_at: Date;
  actor: string | null;
  trace_context: Record<string, string> | null;
}

const SELECT = `SELECT seq::text AS seq, tx_id::text AS tx_id, event_id::text AS event_id, event_type, aggregate_type,
  aggregate_id::text AS aggregate_id, aggregate_version, schema_version, payload, occurred_at, actor, trace_context
  FROM outbox`;

/** A stored payload as an object, or why it is not one. */
function decodePayload(row: OutboxRow): { data: unknown; error?: string } {
  let value = row.payload;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return { data: undefined, error: 'its payload is a string, not an object' };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      data: undefined,
      error: `its payload is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object`,
    };
  }
  return { data: value };
}

/**
 * An outbox row as an event. A payload that cannot be decoded does not throw here (a
 * reader that throws stops every consumer at that row, each reporting nothing): the
 * event carries `decodeError`, and the consumer that must use it fails on that one
 * event (see undecodableEvent), with its own retries, error and position.
 */
export function toStoredEvent(row: OutboxRow): StoredEvent {
  const payload = decodePayload(row);
  // In its type's current shape (events/upcasters.ts); a payload no upcaster can take
  // fails like one that cannot be decoded: on that event, for whoever must use it.
  let schemaVersion = row.schema_version;
  if (!payload.error) {
    try {
      const current = upcast(row.event_type, row.schema_version, payload.data as Record<string, unknown>);
      payload.data = current.data;
      schemaVersion = current.version;
    } catch (error) {
      payload.data = undefined;
      payload.error = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    aggregateType: row.aggregate_type as StoredEvent['aggregateType'],
    aggregateId: row.aggregate_id,
    aggregateVersion: row.aggregate_version,
    event: { type: row.event_type, data: payload.data } as DomainEvent,
    position: { txId: BigInt(row.tx_id), seq: BigInt(row.seq) },
    eventId: row.event_id,
    schemaVersion,
    storedSchemaVersion: row.schema_version,
    occurredAt: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
    actor: row.actor,
    traceContext: row.trace_context,
    ...(payload.error ? { decodeError: payload.error } : {}),
  };
}

/** A stored event that cannot be decoded: applying or publishing it fails with this. */
export class UndecodableEvent extends Error {
  constructor(readonly event: StoredEvent) {
    super(
      `outbox event ${event.eventId} (${event.event.type} of ${event.aggregateType} ${event.aggregateId}, version ${event.aggregateVersion}) cannot be decoded: ${event.decodeError}`,
    );
  }
}

/** Throws UndecodableEvent for the first event of `events` whose payload could not be decoded. */
export function assertDecoded(events: readonly StoredEvent[]): void {
  const bad = events.find((e) => e.decodeError);
  if (bad) throw new UndecodableEvent(bad);
}

/** The next committed events after `after`, oldest first, never past the horizon. */
export async function readCommitted(sql: Sql, after: Position, limit: number): Promise<StoredEvent[]> {
  // ORDER BY names the table's columns: the select list casts tx_id and seq to text
  // under the same names, and ordering those as text would put "1001" before "758".
  const rows = await sql.query<OutboxRow>(
    `${SELECT}
      WHERE (tx_id, seq) > ($1::xid8, $2::bigint)
        AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY outbox.tx_id, outbox.seq
      LIMIT $3`,
    [after.txId.toString(), after.seq.toString(), limit],
  );
  return rows.map(toStoredEvent);
}

/** The events at `positions` (parked events re-read for a retry), in outbox order. */
export async function readAt(sql: Sql, positions: readonly Position[]): Promise<StoredEvent[]> {
  if (!positions.length) return [];
  const rows = await sql.query<OutboxRow>(
    `${SELECT}
      WHERE (tx_id, seq) IN (SELECT * FROM unnest($1::xid8[], $2::bigint[]))
      ORDER BY outbox.tx_id, outbox.seq`,
    [positions.map((p) => p.txId.toString()), positions.map((p) => p.seq.toString())],
  );
  return rows.map(toStoredEvent);
}

export interface Lag {
  events: number;
  /** Age of the oldest committed event not yet applied, 0 when caught up. */
  ms: number;
}

/** Committed events after `after` (whether or not the horizon has passed them yet). */
export async function lagAfter(sql: Sql, after: Position): Promise<Lag> {
  const rows = await sql.query<{ events: number; ms: number | null }>(
    `SELECT count(*)::int AS events,
            (extract(epoch FROM clock_timestamp() - min(occurred_at)) * 1000)::float8 AS ms
       FROM outbox WHERE (tx_id, seq) > ($1::xid8, $2::bigint)`,
    [after.txId.toString(), after.seq.toString()],
  );
  return { events: rows[0]?.events ?? 0, ms: Math.max(0, Math.round(rows[0]?.ms ?? 0)) };
}

/** The newest committed event's position, or null for an empty outbox. */
export async function headPosition(sql: Sql): Promise<Position | null> {
  const rows = await sql.query<{ tx_id: string; seq: string }>(
    // Qualified: a bare "tx_id" in ORDER BY would mean the text output column.
    'SELECT tx_id::text AS tx_id, seq::text AS seq FROM outbox ORDER BY outbox.tx_id DESC, outbox.seq DESC LIMIT 1',
  );
  return rows[0] ? { txId: BigInt(rows[0].tx_id), seq: BigInt(rows[0].seq) } : null;
}

export interface HorizonHolder {
  pid: number;
  xactStart: Date | null;
  ageMs: number;
  state: string | null;
  query: string | null;
  applicationName: string | null;
}

/**
 * The oldest transactions that hold a transaction id, oldest first. The first pins
 * pg_snapshot_xmin: while it runs no reader can pass the events behind it. (Any
 * database of the cluster counts: transaction ids are cluster-wide.)
 */
export async function horizonHolders(sql: Sql, limit = 5): Promise<HorizonHolder[]> {
  const rows = await sql.query<{
    pid: number;
    xact_start: Date | null;
    age_ms: number | null;
    state: string | null;
    query: string | null;
    application_name: string | null;
  }>(
    `SELECT pid, xact_start, (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::float8 AS age_ms, state,
            left(query, 500) AS query, application_name
       FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
      ORDER BY age(backend_xid) DESC
      LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
    pid: row.pid,
    xactStart: row.xact_start,
    ageMs: Math.max(0, Math.round(row.age_ms ?? 0)),
    state: row.state,
    query: row.query,
    applicationName: row.application_name,
  }));
}

/** The outbox holds events this code cannot read in their current shape (see checkEventVersions). */
export class EventVersionError extends Error {
  override name = 'EventVersionError';
}

/**
 * At start-up: every (event type, schema version) in the outbox has an upcaster path to
 * the current version, none is newer than this code. One grouped scan of the outbox.
 */
export async function checkEventVersions(sql: Sql): Promise<void> {
  const rows = await sql.query<{ event_type: string; schema_version: number; events: number }>(
    `SELECT event_type, schema_version, count(*)::int AS events FROM outbox
      GROUP BY event_type, schema_version ORDER BY event_type, schema_version`,
  );
  const problems = rows.flatMap((r) => {
    const problem = upcastProblem(r.event_type, r.schema_version);
    return problem ? [`${problem} (${r.events} stored events)`] : [];
  });
  if (problems.length) {
    throw new EventVersionError(
      `the outbox holds events this code cannot read: ${problems.join('; ')}. Add the missing upcasters (src/events/upcasters.ts) or run the release that wrote them.`,
    );
  }
}
