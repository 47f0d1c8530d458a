// Appends a command's events to the outbox inside the command's own transaction, so
// the events exist if and only if the write-model change committed.
import { randomUUID } from 'node:crypto';
import { context, type Context as TraceContext, trace } from '@opentelemetry/api';
import type { Sql } from '../db/sql.ts';
import { type DomainEvent, type PendingEvent, SCHEMA_VERSIONS } from '../events/events.ts';
import { carrierOf, endWithError, tracer } from '../observability/tracing.ts';
import type { Position } from './position.ts';

export const OUTBOX_CHANNEL = 'parallax_outbox';

export interface StoredEvent<E extends DomainEvent = DomainEvent> extends PendingEvent<E> {
  position: Position;
  eventId: string;
  /** The payload's schema version as read: its type's current one (after upcasting). */
  schemaVersion: number;
  /** The version the payload was stored at (older ones are upcast on read; see events/upcasters.ts). */
  storedSchemaVersion?: number;
  occurredAt: Date;
  actor: string | null;
  traceContext: Record<string, string> | null;
  /**
   * Set when the stored payload could not be decoded (not a JSON object): the event
   * carries no data, and whoever must apply or publish it fails on it (never skips it).
   */
  decodeError?: string;
}

export interface AppendMeta {
  /** The subject id that ran the command (auth/subject.ts actorId: never an email). */
  actor: string | null;
  /** Its role (customer, support, admin), for the audit trail. */
  actorRole?: string | null;
  /** Parent of the append span; the active context (the command's span) by default. */
  trace?: TraceContext;
  /**
   * The command's idempotency record, written by the same statement as the events:
   * `result` is stored with `position` (the token of the last event's position) added.
   */
  idempotency?: { command: string; key: string; requestHash: string; result: Record<string, unknown> } | undefined;
}

export async function appendToOutbox(tx: Sql, events: PendingEvent[], meta: AppendMeta): Promise<StoredEvent[]> {
  const parent = meta.trace ?? context.active();
  const span = tracer().startSpan('outbox append', { attributes: { 'parallax.events': events.length } }, parent);
  // The rows carry this span's W3C context: the projection batch that applies them
  // later continues the trace from here.
  const traceContext = carrierOf(trace.setSpan(parent, span));
  try {
    const stored = await insert(tx, events, meta.actor, meta.actorRole ?? null, traceContext, meta.idempotency);
    span.setAttribute('parallax.position.seq', String(stored.at(-1)?.position.seq ?? ''));
    span.end();
    return stored;
  } catch (error) {
    endWithError(span, error);
    throw error;
  }
}

// encodePosition() in SQL: base64url of "p1:<tx_id>:<seq>" (no padding; encode()'s
// line breaks, which start at 76 characters, are dropped too).
const POSITION_TOKEN_SQL = `rtrim(translate(encode(convert_to('p1:' || last.tx_id::text || ':' || last.seq::text, 'UTF8'),
                                              'base64'), E'+/\\n', '-_'), '=')`;

// One statement for all of the command's events; unnest keeps their order, so seq
// follows the order decide() produced them in.
const INSERT_EVENTS = `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version,
                                 schema_version, payload, actor, trace_context, actor_role)
     SELECT e.id, e.type, e.agg_type, e.agg_id, e.agg_version, e.schema_version, e.payload::jsonb, $8, $9::jsonb, $10
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::int[], $6::int[], $7::text[])
            AS e(id, type, agg_type, agg_id, agg_version, schema_version, payload)`;

const APPEND = `${INSERT_EVENTS} RETURNING seq::text AS seq, tx_id::text AS tx_id, occurred_at`;

// The same, plus the idempotency record in the same statement.
const APPEND_WITH_IDEMPOTENCY = `WITH appended AS (${INSERT_EVENTS} RETURNING seq, tx_id, occurred_at),
     recorded AS (
       INSERT INTO idempotency_records (command, key, request_hash, result)
       SELECT $11, $12, $13, $14::jsonb || jsonb_build_object('position', ${POSITION_TOKEN_SQL})
         FROM (SELECT tx_id, seq FROM appended ORDER BY seq DESC LIMIT 1) AS last)
     SELECT seq::text AS seq, tx_id::text AS tx_id, occurred_at FROM appended`;

async function insert(
  tx: Sql,
  events: PendingEvent[],
  actor: string | null,
  actorRole: string | null,
  traceContext: Record<string, string> | null,
  idempotency: AppendMeta['idempotency'],
): Promise<StoredEvent[]> {
  const ids = events.map(() => randomUUID());
  const params: unknown[] = [
    ids,
    events.map((e) => e.event.type),
    events.map((e) => e.aggregateType),
    events.map((e) => e.aggregateId),
    events.map((e) => e.aggregateVersion),
    events.map((e) => SCHEMA_VERSIONS[e.event.type]),
    events.map((e) => JSON.stringify(e.event.data)),
    actor,
    traceContext ? JSON.stringify(traceContext) : null,
    actorRole,
  ];
  if (idempotency) {
    params.push(idempotency.command, idempotency.key, idempotency.requestHash, JSON.stringify(idempotency.result));
  }
  const rows = await tx.query<{ seq: string; tx_id: string; occurred_at: Date }>(
    idempotency ? APPEND_WITH_IDEMPOTENCY : APPEND,
    params,
  );
  // int8 as text: pg and Prisma return it differently.
  const positions = rows
    .map((r) => ({ txId: BigInt(r.tx_id), seq: BigInt(r.seq), occurredAt: r.occurred_at }))
    .sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return events.map((e, i) => {
    const { occurredAt, ...position } = positions[i]!;
    return {
      ...e,
      eventId: ids[i]!,
      position,
      schemaVersion: SCHEMA_VERSIONS[e.event.type],
      occurredAt,
      actor,
      traceContext,
    };
  });
}
