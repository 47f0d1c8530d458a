// The audit trail of one aggregate: its events from the outbox, oldest first, with
// who caused each (the token's subject id and role), when and what.
import type pg from 'pg';
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
    payload: Record<string, unknown>;
  }>(
    `SELECT tx_id::text AS tx_id, seq::text AS seq, event_type, aggregate_version, occurred_at, actor, actor_role,
            payload
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
    payload: r.payload,
  }));
}
