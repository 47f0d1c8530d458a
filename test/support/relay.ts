// Checks for the relay tests: what reached the stream against the outbox.
import type pg from 'pg';
import { expect } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { encodePosition } from '../../src/outbox/position.ts';
import { readRelayCheckpoint } from '../../src/relay/checkpoint.ts';
import { NATS_RELAY } from '../../src/relay/relay.ts';
import { relayStatuses } from '../../src/relay/status.ts';
import type { ReceivedMessage } from './nats.ts';
import { until } from './projections.ts';

interface OutboxEntry {
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  event_type: string;
  tx_id: string;
  seq: string;
}

export async function outboxEntries(pool: pg.Pool): Promise<OutboxEntry[]> {
  const { rows } = await pool.query<OutboxEntry>(
    `SELECT event_id::text, aggregate_type, aggregate_id::text, aggregate_version, event_type, tx_id::text, seq::text
       FROM outbox ORDER BY outbox.tx_id, outbox.seq`,
  );
  return rows;
}

/** Waits until the relay's checkpoint is at the outbox head (every committed event published). */
export async function relayCaughtUp(pool: pg.Pool, timeoutMs = 60_000): Promise<void> {
  await until(
    'the relay to publish every committed event',
    async () => {
      const status = (await relayStatuses(pool)).find((s) => s.name === NATS_RELAY);
      return status !== undefined && status.lagEvents === 0;
    },
    timeoutMs,
  );
}

export async function relayPosition(pool: pg.Pool) {
  return (await readRelayCheckpoint(pgSql(pool), NATS_RELAY))?.position;
}

/**
 * Every outbox event is in `received` exactly once, with Nats-Msg-Id = event id, the
 * documented subject and headers, and the events of each aggregate in version order.
 */
export async function expectEveryEventOnceInAggregateOrder(
  pool: pg.Pool,
  received: ReceivedMessage[],
  subjectPrefix: string,
): Promise<void> {
  const outbox = await outboxEntries(pool);
  expect(outbox.length).toBeGreaterThan(0);
  const ids = received.map((m) => m.eventId);
  expect(new Set(ids).size, 'a message arrived twice').toBe(ids.length);
  expect(received.length, 'stream messages = outbox rows').toBe(outbox.length);
  const byId = new Map(outbox.map((e) => [e.event_id, e]));
  for (const m of received) {
    const e = byId.get(m.eventId);
    expect(e, `message ${m.eventId} is no outbox event`).toBeDefined();
    expect(m.msgId).toBe(m.eventId);
    expect(m.subject).toBe(`${subjectPrefix}.${e!.aggregate_type}.${e!.aggregate_id}.${e!.event_type}`);
    expect(m.aggregateVersion).toBe(e!.aggregate_version);
    expect(m.position).toBe(encodePosition({ txId: BigInt(e!.tx_id), seq: BigInt(e!.seq) }));
  }
  // Per aggregate: the versions in stream order are the outbox's, ascending.
  const streamOrder = new Map<string, number[]>();
  for (const m of received) {
    const key = `${m.aggregateType}:${m.aggregateId}`;
    streamOrder.set(key, [...(streamOrder.get(key) ?? []), m.aggregateVersion]);
  }
  const outboxOrder = new Map<string, number[]>();
  for (const e of outbox) {
    const key = `${e.aggregate_type}:${e.aggregate_id}`;
    outboxOrder.set(key, [...(outboxOrder.get(key) ?? []), e.aggregate_version]);
  }
  for (const [key, versions] of outboxOrder) {
    expect(streamOrder.get(key), `order of ${key} in the stream`).toEqual([...versions].sort((a, b) => a - b));
  }
}
