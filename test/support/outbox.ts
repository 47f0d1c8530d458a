// Reads what a command appended to the outbox, and proves it was written in the same
// PostgreSQL transaction as the write-model rows: a row's xmin is the id of the
// transaction that wrote it, and the outbox's tx_id is that transaction's full id.

import type pg from 'pg';
import { expect } from 'vitest';
import { SCHEMA_VERSIONS } from '../../src/events/events.ts';
import { decodePosition } from '../../src/outbox/position.ts';

export interface OutboxRow {
  seq: string;
  txId: string;
  eventId: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  schemaVersion: number;
  payload: Record<string, unknown>;
  actor: string | null;
}

/** The outbox's current end; pass it to outboxSince to see what came after. */
export async function outboxEnd(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ seq: string }>('SELECT coalesce(max(seq), 0)::text AS seq FROM outbox');
  return rows[0]!.seq;
}

export async function outboxSince(pool: pg.Pool, end: string): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT seq::text AS "seq", tx_id::text AS "txId", event_id::text AS "eventId", event_type AS "eventType",
            aggregate_type AS "aggregateType", aggregate_id::text AS "aggregateId",
            aggregate_version AS "aggregateVersion", schema_version AS "schemaVersion", payload, actor
       FROM outbox WHERE seq > $1::bigint ORDER BY outbox.seq`,
    [end],
  );
  return rows;
}

export async function outboxFor(pool: pg.Pool, aggregateId: string): Promise<OutboxRow[]> {
  return (await outboxSince(pool, '0')).filter((row) => row.aggregateId === aggregateId);
}

/** A write-model row set, e.g. { table: 'order_items', where: { order_id: id, line_no: 2 } }. */
export interface WrittenRows {
  table: 'customers' | 'products' | 'orders' | 'order_items' | 'idempotency_records';
  where: Record<string, string | number>;
}

/** The ids of the transactions that last wrote the matching rows (32-bit xids). */
async function writers(pool: pg.Pool, { table, where }: WrittenRows): Promise<string[]> {
  const columns = Object.keys(where);
  const condition = columns.map((column, i) => `${column}::text = $${i + 1}`).join(' AND ');
  const { rows } = await pool.query<{ xmin: string }>(
    `SELECT xmin::text AS xmin FROM ${table} WHERE ${condition}`,
    columns.map((column) => String(where[column])),
  );
  return rows.map((r) => r.xmin);
}

export type ExpectedEvent = Omit<OutboxRow, 'seq' | 'txId' | 'eventId' | 'schemaVersion'>;

/**
 * Asserts that one command appended exactly `events` (in order) since `end`, all in
 * one transaction, the one its `position` token names, and that this same
 * transaction wrote every row in `wrote`.
 */
export async function expectOneTransaction(
  pool: pg.Pool,
  command: { end: string; position: string; events: ExpectedEvent[]; wrote: WrittenRows[] },
): Promise<OutboxRow[]> {
  const rows = await outboxSince(pool, command.end);
  expect(rows).toEqual(
    command.events.map((e) => ({
      ...e,
      seq: expect.any(String),
      txId: expect.any(String),
      eventId: expect.any(String),
      // New events are written at their type's current schema version.
      schemaVersion: SCHEMA_VERSIONS[e.eventType as keyof typeof SCHEMA_VERSIONS],
    })),
  );
  const txIds = new Set(rows.map((r) => r.txId));
  expect(txIds.size).toBe(1);
  const txId = rows[0]!.txId;
  const position = decodePosition(command.position);
  expect({ txId: String(position.txId), seq: String(position.seq) }).toEqual({ txId, seq: rows.at(-1)!.seq });
  // xmin is the low 32 bits of the full transaction id in tx_id.
  const xid = String(BigInt(txId) % 2n ** 32n);
  for (const written of command.wrote) {
    const xmins = await writers(pool, written);
    expect(xmins.length, `${written.table} ${JSON.stringify(written.where)}`).toBeGreaterThan(0);
    expect(new Set(xmins), `${written.table} ${JSON.stringify(written.where)}`).toEqual(new Set([xid]));
  }
  return rows;
}
