// Appends a command's events to the outbox inside the command's own transaction, so
// the events exist if and only if the write-model change committed.
import { randomUUID } from 'node:crypto';
import { context, type Context as TraceContext, trace } from '@opentelemetry/api';
import type { TransactionClient } from '../db/prisma.ts';
import { carrierOf, endWithError, tracer } from '../observability/tracing.ts';
import { type DomainEvent, type PendingEvent, SCHEMA_VERSIONS } from '../write/events.ts';
import type { Position } from './position.ts';

export const OUTBOX_CHANNEL = 'parallax_outbox';

export interface StoredEvent<E extends DomainEvent = DomainEvent> extends PendingEvent<E> {
  position: Position;
  eventId: string;
  schemaVersion: number;
  occurredAt: Date;
  actor: string | null;
  traceContext: Record<string, string> | null;
}

export interface AppendMeta {
  actor: string | null;
  /** Parent of the append span; the active context (the command's span) by default. */
  trace?: TraceContext;
}

export async function appendToOutbox(
  tx: TransactionClient,
  events: PendingEvent[],
  meta: AppendMeta,
): Promise<StoredEvent[]> {
  const parent = meta.trace ?? context.active();
  const span = tracer().startSpan('outbox append', { attributes: { 'parallax.events': events.length } }, parent);
  // The rows carry this span's W3C context: the projection batch that applies them
  // later continues the trace from here.
  const traceContext = carrierOf(trace.setSpan(parent, span));
  try {
    const stored = await insert(tx, events, meta.actor, traceContext);
    span.setAttribute('parallax.position.seq', String(stored.at(-1)?.position.seq ?? ''));
    span.end();
    return stored;
  } catch (error) {
    endWithError(span, error);
    throw error;
  }
}

async function insert(
  tx: TransactionClient,
  events: PendingEvent[],
  actor: string | null,
  traceContext: Record<string, string> | null,
): Promise<StoredEvent[]> {
  const ids = events.map(() => randomUUID());
  // One statement for all of the command's events; unnest keeps their order, so seq
  // follows the order decide() produced them in.
  const rows = await tx.$queryRawUnsafe<{ seq: bigint; tx_id: string; occurred_at: Date }[]>(
    `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version,
                         payload, actor, trace_context)
     SELECT e.id, e.type, e.agg_type, e.agg_id, e.agg_version, e.schema_version, e.payload::jsonb, $8, $9::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::int[], $6::int[], $7::text[])
            AS e(id, type, agg_type, agg_id, agg_version, schema_version, payload)
     RETURNING seq, tx_id::text AS tx_id, occurred_at`,
    ids,
    events.map((e) => e.event.type),
    events.map((e) => e.aggregateType),
    events.map((e) => e.aggregateId),
    events.map((e) => e.aggregateVersion),
    events.map((e) => SCHEMA_VERSIONS[e.event.type]),
    events.map((e) => JSON.stringify(e.event.data)),
    actor,
    traceContext ? JSON.stringify(traceContext) : null,
  );
  rows.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return events.map((e, i) => {
    const row = rows[i]!;
    return {
      ...e,
      eventId: ids[i]!,
      position: { txId: BigInt(row.tx_id), seq: BigInt(row.seq) },
      schemaVersion: SCHEMA_VERSIONS[e.event.type],
      occurredAt: row.occurred_at,
      actor,
      traceContext,
    };
  });
}
