// The no-skip audit, always on. Every batch counts the events it passed on its
// checkpoint row (events_applied: applied, not relevant to the projection, or parked),
// in the same transaction that moves the checkpoint. The audit compares that count with
// the outbox itself: the rows at or below the checkpoint. Any difference is an event
// the checkpoint passed without the engine accounting for it (a reader that skipped
// one, a checkpoint moved by hand) or accounted twice; it shows as
// parallax_projection_unaccounted_events, in the `projections` query and in /ready.
//
// Rows at or below a checkpoint never change (the reader's horizon guarantees no row
// appears there later), so each audit counts only the outbox rows between the last
// audited position and the checkpoint, and keeps the new total in projection_audits.
import type { Sql } from '../db/sql.ts';
import { comparePositions, type Position, ZERO_POSITION } from '../outbox/position.ts';

export interface AuditResult {
  name: string;
  position: Position;
  /** Outbox rows at or below the checkpoint. */
  outboxEvents: number;
  /** Events the checkpoint accounts for. */
  accounted: number;
  /** outboxEvents − accounted: 0 unless an event was skipped (positive) or counted twice (negative). */
  unaccounted: number;
  auditedAt: Date;
}

async function countBetween(sql: Sql, after: Position, upTo: Position): Promise<number> {
  const rows = await sql.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM outbox
      WHERE (tx_id, seq) > ($1::xid8, $2::bigint) AND (tx_id, seq) <= ($3::xid8, $4::bigint)`,
    [after.txId.toString(), after.seq.toString(), upTo.txId.toString(), upTo.seq.toString()],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Audits one projection's checkpoint against the outbox and records the result. */
export async function auditProjection(
  sql: Sql,
  name: string,
  /** Where the outbox is: the write database when the read models live apart. */
  outbox: Sql = sql,
): Promise<AuditResult | undefined> {
  const [checkpoint] = await sql.query<{ tx_id: string; seq: string; events_applied: string }>(
    `SELECT tx_id::text AS tx_id, seq::text AS seq, events_applied::text AS events_applied
       FROM projection_checkpoints WHERE name = $1`,
    [name],
  );
  if (!checkpoint) return undefined;
  const position = { txId: BigInt(checkpoint.tx_id), seq: BigInt(checkpoint.seq) };
  const [last] = await sql.query<{ tx_id: string; seq: string; outbox_events: string }>(
    'SELECT tx_id::text AS tx_id, seq::text AS seq, outbox_events::text AS outbox_events FROM projection_audits WHERE name = $1',
    [name],
  );
  const lastPosition = last ? { txId: BigInt(last.tx_id), seq: BigInt(last.seq) } : undefined;
  // From the last audit when the checkpoint is still at or past it; from the start when
  // it went back (a checkpoint reset by hand) or on the first audit.
  const outboxEvents =
    lastPosition && comparePositions(lastPosition, position) <= 0
      ? Number(last!.outbox_events) + (await countBetween(outbox, lastPosition, position))
      : await countBetween(outbox, ZERO_POSITION, position);
  const accounted = Number(checkpoint.events_applied);
  const unaccounted = outboxEvents - accounted;
  const [saved] = await sql.query<{ audited_at: Date }>(
    `INSERT INTO projection_audits (name, tx_id, seq, outbox_events, accounted, unaccounted, audited_at)
     VALUES ($1, $2::xid8, $3::bigint, $4::bigint, $5::bigint, $6::bigint, now())
     ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, seq = EXCLUDED.seq, outbox_events = EXCLUDED.outbox_events,
       accounted = EXCLUDED.accounted, unaccounted = EXCLUDED.unaccounted, audited_at = EXCLUDED.audited_at
     RETURNING audited_at`,
    [name, checkpoint.tx_id, checkpoint.seq, outboxEvents, accounted, unaccounted],
  );
  return { name, position, outboxEvents, accounted, unaccounted, auditedAt: saved!.audited_at };
}

export interface AuditSummary {
  unaccounted: number;
  auditedAt: Date;
  ageMs: number;
}

/** The last audit of each projection. */
export async function lastAudits(sql: Sql): Promise<Map<string, AuditSummary>> {
  const rows = await sql.query<{ name: string; unaccounted: string; audited_at: Date; age_ms: number }>(
    `SELECT name, unaccounted::text AS unaccounted, audited_at,
            (extract(epoch FROM clock_timestamp() - audited_at) * 1000)::float8 AS age_ms
       FROM projection_audits`,
  );
  return new Map(
    rows.map((r) => [
      r.name,
      { unaccounted: Number(r.unaccounted), auditedAt: r.audited_at, ageMs: Math.max(0, Math.round(r.age_ms)) },
    ]),
  );
}
