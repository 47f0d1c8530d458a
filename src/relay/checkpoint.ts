// relay_checkpoints rows: a relay's position in the outbox and its lease (see the
// migration for why both live on one row and why the advance is the fence).

import type { Sql } from '../db/sql.ts';
import type { Position } from '../outbox/position.ts';

export interface RelayCheckpoint {
  name: string;
  position: Position;
  eventsPublished: number;
  owner: string | null;
  leaseExpiresAt: Date;
  leaseLive: boolean;
  lastError: string | null;
  lastErrorAt: Date | null;
  updatedAt: Date;
}

interface Row {
  name: string;
  tx_id: string;
  seq: string;
  events_published: string;
  owner: string | null;
  lease_expires_at: Date;
  lease_live: boolean;
  last_error: string | null;
  last_error_at: Date | null;
  updated_at: Date;
}

const COLUMNS = `name, tx_id::text AS tx_id, seq::text AS seq, events_published::text AS events_published, owner,
  lease_expires_at, lease_expires_at > now() AS lease_live, last_error, last_error_at, updated_at`;

function toCheckpoint(row: Row): RelayCheckpoint {
  return {
    name: row.name,
    position: { txId: BigInt(row.tx_id), seq: BigInt(row.seq) },
    eventsPublished: Number(row.events_published),
    owner: row.owner,
    leaseExpiresAt: row.lease_expires_at,
    leaseLive: row.lease_live,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    updatedAt: row.updated_at,
  };
}

export async function ensureRelayCheckpoint(sql: Sql, name: string): Promise<void> {
  await sql.execute('INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
}

export async function readRelayCheckpoint(sql: Sql, name: string): Promise<RelayCheckpoint | null> {
  const rows = await sql.query<Row>(`SELECT ${COLUMNS} FROM relay_checkpoints WHERE name = $1`, [name]);
  return rows[0] ? toCheckpoint(rows[0]) : null;
}

export async function readRelayCheckpoints(sql: Sql): Promise<RelayCheckpoint[]> {
  const rows = await sql.query<Row>(`SELECT ${COLUMNS} FROM relay_checkpoints ORDER BY name`);
  return rows.map(toCheckpoint);
}

/**
 * Renews our lease, or takes the relay when it is free or its lease expired. Returns
 * whether we hold it, and how long until a foreign lease expires (to try again then).
 */
export async function claimRelayLease(
  sql: Sql,
  name: string,
  owner: string,
  ttlMs: number,
): Promise<{ held: boolean; foreignExpiresInMs: number | null }> {
  const rows = await sql.query<{ owner: string | null; ms: number }>(
    `WITH claimed AS (
       UPDATE relay_checkpoints
          SET owner = $2, lease_expires_at = now() + make_interval(secs => $3::float8 / 1000),
              acquired_at = CASE WHEN owner = $2 AND lease_expires_at > now() THEN acquired_at ELSE now() END
        WHERE name = $1 AND (owner IS NULL OR (owner = $2 AND lease_expires_at > now()) OR lease_expires_at <= now())
        RETURNING owner)
     SELECT c.owner, 0::float8 AS ms FROM claimed c
     UNION ALL
     SELECT r.owner, (extract(epoch FROM r.lease_expires_at - now()) * 1000)::float8 AS ms
       FROM relay_checkpoints r WHERE r.name = $1 AND NOT EXISTS (SELECT 1 FROM claimed)`,
    [name, owner, ttlMs],
  );
  const row = rows[0];
  if (!row) return { held: false, foreignExpiresInMs: null };
  if (row.owner === owner && row.ms === 0) return { held: true, foreignExpiresInMs: null };
  return { held: false, foreignExpiresInMs: Math.max(0, row.ms) };
}

export async function releaseRelayLease(sql: Sql, name: string, owner: string): Promise<void> {
  await sql.execute(
    'UPDATE relay_checkpoints SET owner = NULL, lease_expires_at = now() WHERE name = $1 AND owner = $2',
    [name, owner],
  );
}

/**
 * Moves the checkpoint from `from` to `to` after a batch was acknowledged. One
 * statement, so its conditions are checked under the row lock it takes: the lease must
 * be ours and unexpired, and the row must still be at `from` (nobody else moved it).
 * False means we were fenced off: someone else runs the relay now.
 */
export async function advanceRelayCheckpoint(
  sql: Sql,
  name: string,
  owner: string,
  from: Position,
  to: Position,
  published: number,
): Promise<boolean> {
  return (
    (await sql.execute(
      `UPDATE relay_checkpoints
          SET tx_id = $5::xid8, seq = $6::bigint, events_published = events_published + $7::int,
              last_error = NULL, last_error_at = NULL, updated_at = now()
        WHERE name = $1 AND owner = $2 AND lease_expires_at > now() AND tx_id = $3::xid8 AND seq = $4::bigint`,
      [name, owner, from.txId.toString(), from.seq.toString(), to.txId.toString(), to.seq.toString(), published],
    )) > 0
  );
}

/** Notes why the relay is not moving (NATS down, stream rejected a message). */
export async function recordRelayError(sql: Sql, name: string, owner: string, error: string): Promise<void> {
  await sql.execute(
    `UPDATE relay_checkpoints SET last_error = $3, last_error_at = now(), updated_at = now()
      WHERE name = $1 AND owner = $2`,
    [name, owner, error.slice(0, 2000)],
  );
}
