// The audit trail of one aggregate: its events from the outbox, oldest first, with
// who caused each (the token's subject id and role), when and what.
import type pg from 'pg';
import { upcast } from '../events/upcasters.ts';
import { encodePosition } from './position.ts';

export interface AuditEvent {
  position: string;
  eventType: string;
  aggregateVersion: number;
  occurredAt: Date;
  actor: string | null;
  actorRole: string | null;
  payload: Record<string, unknown>;
}

/** The payload in its type's current shape (events/upcasters.ts); as stored when it cannot be. */
function currentShape(type: string, version: number, payload: Record<string, unknown>): Record<string, unknown> {
  try {
    return upcast(type, version, payload).data;
  } catch {
    return payload;
  }
}

export async function aggregateHistory(
  pool: pg.Pool,
  aggregateType: string,
  aggregateId: string,
  limit: number,
): Promise<AuditEvent[]> {
  const { rows } = await pool.query<{
    tx_id: string;
    seq: string;
    event_type: string;
    aggregate_version: number;
    occurred_at: Date;
    actor: string | null;
    actor_role: string | null;
    schema_version: number;
    payload: Record<string, unknown>;
  }>(
    `SELECT tx_id::text AS tx_id, seq::text AS seq, event_type, aggregate_version, occurred_at, actor, actor_role,
            schema_version, payload
       FROM outbox
      WHERE aggregate_type = $1 AND aggregate_id = $2::uuid
      ORDER BY aggregate_version, seq
      LIMIT $3`,
    [aggregateType, aggregateId, limit],
  );
  return rows.map((r) => ({
    position: encodePosition({ txId: BigInt(r.tx_id), seq: BigInt(r.seq) }),
    eventType: r.event_type,
    aggregateVersion: r.aggregate_version,
    occurredAt: r.occurred_at,
    actor: r.actor,
    actorRole: r.actor_role,
    payload: currentShape(r.event_type, r.schema_version, r.payload),
  }));
}
