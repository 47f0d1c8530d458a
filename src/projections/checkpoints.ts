// Checkpoint rows: where each projection is in the outbox, and whether it is LIVE or
// STALLED. See the migration for why the row lock doubles as compare-and-set.

import type { Sql } from '../db/sql.ts';
import type { Position } from '../outbox/position.ts';

export type ProjectionState = 'LIVE' | 'STALLED' | 'REBUILDING';

export interface Checkpoint {
  name: string;
  position: Position;
  state: ProjectionState;
  lastError: string | null;
  errorPosition: Position | null;
  retries: number;
  /** Events the checkpoint has passed: applied, not relevant to the projection, or parked. */
  eventsApplied: number;
  updatedAt: Date;
  /** When a batch last committed (null: never). */
  lastBatchAt: Date | null;
}

interface CheckpointRow {
  name: string;
  tx_id: string;
  seq: string;
  state: ProjectionState;
  last_error: string | null;
  error_tx_id: string | null;
  error_seq: string | null;
  retries: number;
  events_applied: string;
  updated_at: Date;
  last_batch_at: Date | null;
}

const COLUMNS = `name, tx_id::text AS tx_id, seq::text AS seq, state, last_error, error_tx_id::text AS error_tx_id,
  error_seq::text AS error_seq, retries, events_applied::text AS events_applied, updated_at, last_batch_at`;

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    name: row.name,
    position: { txId: BigInt(row.tx_id), seq: BigInt(row.seq) },
    state: row.state,
    lastError: row.last_error,
    errorPosition:
      row.error_tx_id && row.error_seq ? { txId: BigInt(row.error_tx_id), seq: BigInt(row.error_seq) } : null,
    retries: row.retries,
    eventsApplied: Number(row.events_applied),
    updatedAt: row.updated_at,
    lastBatchAt: row.last_batch_at,
  };
}

export async function ensureCheckpoints(sql: Sql, names: readonly string[]): Promise<void> {
  await sql.execute(
    'INSERT INTO projection_checkpoints (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING',
    [names],
  );
}

/** Locks the checkpoint for this transaction; null when another worker holds it. */
export async function lockCheckpoint(sql: Sql, name: string): Promise<Checkpoint | null> {
  const rows = await sql.query<CheckpointRow>(
    `SELECT ${COLUMNS} FROM projection_checkpoints WHERE name = $1 FOR UPDATE SKIP LOCKED`,
    [name],
  );
  return rows[0] ? toCheckpoint(rows[0]) : null;
}

export async function readCheckpoints(sql: Sql): Promise<Checkpoint[]> {
  const rows = await sql.query<CheckpointRow>(`SELECT ${COLUMNS} FROM projection_checkpoints ORDER BY name`);
  return rows.map(toCheckpoint);
}

export async function advanceCheckpoint(sql: Sql, name: string, to: Position, applied: number): Promise<void> {
  await sql.execute(
    `UPDATE projection_checkpoints
        SET tx_id = $2::xid8, seq = $3::bigint, events_applied = events_applied + $4::int, retries = 0,
            last_error = NULL, error_tx_id = NULL, error_seq = NULL, updated_at = now(), last_batch_at = now()
      WHERE name = $1`,
    [name, to.txId.toString(), to.seq.toString(), applied],
  );
}

export async function recordFailure(sql: Sql, name: string, error: string, at: Position | null, stall: boolean) {
  await sql.execute(
    `UPDATE projection_checkpoints
        SET retries = retries + 1, last_error = $2, error_tx_id = $3::xid8, error_seq = $4::bigint,
            state = CASE WHEN $5::boolean THEN 'STALLED' ELSE state END, updated_at = now()
      WHERE name = $1`,
    [name, error.slice(0, 2000), at?.txId.toString() ?? null, at?.seq.toString() ?? null, stall],
  );
}

/** Puts a STALLED projection back to LIVE; it retries the event it stalled on. */
export async function resumeCheckpoint(sql: Sql, name: string): Promise<boolean> {
  return (
    (await sql.execute(
      `UPDATE projection_checkpoints SET state = 'LIVE', retries = 0, updated_at = now()
        WHERE name = $1 AND state = 'STALLED'`,
      [name],
    )) > 0
  );
}
