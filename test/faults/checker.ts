// The end-of-phase checker: the client ledger against the write tables, the outbox and
// every read model; the write tables against themselves (no command half-applied);
// every read model against its recomputation (verifyProjection); every subscriber's
// received changes (no duplicate, nothing missed). With a separate read database the
// write tables and the outbox are read from one pool and the read models and
// checkpoints from the other: no query joins the two sides.
import type pg from 'pg';
import { type Pools, poolsOf } from '../../src/db/pools.ts';
import { pgSql } from '../../src/db/sql.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { verifyProjection } from '../../src/readModels/registry.ts';
import type { LedgerEntry } from './driver.ts';
import type { ResumingSubscriber } from './subscribers.ts';

export interface CheckReport {
  /** Acknowledged commands checked. */
  acknowledged: number;
  /** Each problem found, in words; empty when everything holds. */
  problems: string[];
  /** Acknowledged changes missing anywhere (write tables, outbox, a read model, a subscriber). */
  lost: number;
}

function decodeRowPosition(token: string): [bigint, bigint] {
  const [, tx, seq] = Buffer.from(token, 'base64url').toString().split(':');
  return [BigInt(tx!), BigInt(seq!)];
}

function compare(a: [bigint, bigint], b: [bigint, bigint]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

export async function check(
  pools: Pools | pg.Pool,
  ledger: readonly LedgerEntry[],
  subscribers: readonly ResumingSubscriber[],
  subscribedFrom: string,
): Promise<CheckReport> {
  const { write, read } = poolsOf(pools);
  const problems: string[] = [];
  let lost = 0;
  const acked = ledger.filter((e) => e.outcome === 'acked');

  // 1. Every acknowledged createOrder: its order, its idempotency record, exactly one
  //    OrderCreated, and exactly one row in each per-order read model. The write side
  //    and the read side are counted in their own databases, matched by ordinality.
  const creates = acked.filter((e) => e.command === 'createOrder');
  const { rows: written } = await write.query<{
    i: number;
    key: string;
    order_id: string;
    in_orders: number;
    records: number;
    created_events: number;
  }>(
    `SELECT k.i::int, k.key, k.order_id,
            (SELECT count(*)::int FROM orders o WHERE o.id = k.order_id::uuid) AS in_orders,
            (SELECT count(*)::int FROM idempotency_records r
              WHERE r.command = 'createOrder' AND split_part(r.key, ':', 2) = k.key AND r.result->>'orderId' = k.order_id) AS records,
            (SELECT count(*)::int FROM outbox e
              WHERE e.aggregate_id = k.order_id::uuid AND e.event_type = 'OrderCreated') AS created_events
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(key, order_id, i)`,
    [creates.map((e) => e.key!), creates.map((e) => e.orderId!)],
  );
  const { rows: projected } = await read.query<{
    i: number;
    list_rows: number;
    history_rows: number;
    search_rows: number;
  }>(
    `SELECT k.i::int,
            (SELECT count(*)::int FROM order_list_view v WHERE v.order_id = k.order_id::uuid) AS list_rows,
            (SELECT count(*)::int FROM customer_order_history h WHERE h.order_id = k.order_id::uuid) AS history_rows,
            (SELECT count(*)::int FROM order_search s WHERE s.order_id = k.order_id::uuid) AS search_rows
       FROM unnest($1::text[]) WITH ORDINALITY AS k(order_id, i)`,
    [creates.map((e) => e.orderId!)],
  );
  const projectedAt = new Map(projected.map(({ i, ...counts }) => [i, counts]));
  const none = { list_rows: 0, history_rows: 0, search_rows: 0 };
  const created = written.map(({ i, ...counts }) => ({ ...counts, ...(projectedAt.get(i) ?? none) }));
  for (const r of created) {
    const bad = Object.entries(r).filter(([name, value]) => name !== 'key' && name !== 'order_id' && value !== 1);
    if (bad.length) {
      lost += 1;
      problems.push(
        `acknowledged createOrder ${r.key} (${r.order_id}): ${bad.map(([n, v]) => `${n}=${v}`).join(', ')}`,
      );
    }
  }

  // 2. Every acknowledged order command: exactly one event at the version it reported.
  const changes = acked.filter((e) => e.command !== 'createOrder');
  const { rows: versions } = await write.query<{ order_id: string; version: number; events: number; current: number }>(
    `SELECT k.order_id, k.version,
            (SELECT count(*)::int FROM outbox e
              WHERE e.aggregate_id = k.order_id::uuid AND e.aggregate_version = k.version) AS events,
            (SELECT o.version FROM orders o WHERE o.id = k.order_id::uuid) AS current
       FROM unnest($1::text[], $2::int[]) AS k(order_id, version)`,
    [changes.map((e) => e.orderId!), changes.map((e) => e.version!)],
  );
  for (const r of versions) {
    if (r.events !== 1 || r.current === null || r.current < r.version) {
      lost += 1;
      problems.push(
        `acknowledged change of ${r.order_id} to version ${r.version}: ${r.events} events, order at ${r.current}`,
      );
    }
  }

  // 3. No command half-applied, acknowledged or not: each order's events are versions
  //    1..version exactly once, its lines are its events' lines, and every order came
  //    from a recorded createOrder (all of the driver's carry a key).
  const { rows: broken } = await write.query<{ id: string; reason: string }>(
    `WITH ev AS (
       SELECT aggregate_id AS id, count(*)::int AS n, count(DISTINCT aggregate_version)::int AS distinct_versions,
              max(aggregate_version) AS max_version,
              coalesce(sum(CASE WHEN event_type = 'OrderCreated' THEN jsonb_array_length(payload->'items')
                                WHEN event_type = 'OrderItemAdded' THEN 1 ELSE 0 END), 0)::int AS lines
         FROM outbox WHERE aggregate_type = 'Order' GROUP BY aggregate_id)
     SELECT o.id::text, 'events ' || coalesce(ev.n, 0) || ' (' || coalesce(ev.distinct_versions, 0) || ' versions, max '
            || coalesce(ev.max_version, 0) || ') for version ' || o.version AS reason
       FROM orders o LEFT JOIN ev ON ev.id = o.id
      WHERE ev.n IS DISTINCT FROM o.version OR ev.distinct_versions IS DISTINCT FROM o.version OR ev.max_version IS DISTINCT FROM o.version
     UNION ALL
     SELECT o.id::text, 'lines ' || (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) || ' but events carry ' || ev.lines
       FROM orders o JOIN ev ON ev.id = o.id
      WHERE (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) <> ev.lines
     UNION ALL
     SELECT ev.id::text, 'events without an order' FROM ev LEFT JOIN orders o ON o.id = ev.id WHERE o.id IS NULL
     UNION ALL
     SELECT o.id::text, 'no idempotency record' FROM orders o
      WHERE NOT EXISTS (SELECT 1 FROM idempotency_records r WHERE r.command = 'createOrder' AND r.result->>'orderId' = o.id::text)
     LIMIT 50`,
  );
  for (const b of broken) problems.push(`order ${b.id}: ${b.reason}`);

  // 4. Unacknowledged createOrders still without an acknowledgement: all or nothing.
  const ackedKeys = new Set(creates.map((e) => e.key));
  const unresolved = [
    ...new Set(ledger.filter((e) => e.command === 'createOrder' && !ackedKeys.has(e.key)).map((e) => e.key!)),
  ];
  if (unresolved.length) {
    const { rows } = await write.query<{ key: string; whole: boolean }>(
      `SELECT split_part(r.key, ':', 2) AS key, EXISTS (SELECT 1 FROM orders o JOIN outbox e ON e.aggregate_id = o.id AND e.event_type = 'OrderCreated'
                              WHERE o.id::text = r.result->>'orderId') AS whole
         FROM idempotency_records r WHERE r.command = 'createOrder' AND split_part(r.key, ':', 2) = ANY($1::text[])`,
      [unresolved],
    );
    for (const r of rows) if (!r.whole) problems.push(`unacknowledged createOrder ${r.key} half-applied`);
  }

  // 5. Every read model equals its recomputation, and applied every event exactly once
  //    (checkpoints in the read database, the outbox in the write database).
  const sql = pgSql(read);
  for (const name of PROJECTION_NAMES) {
    const report = await verifyProjection(sql, name, 10, pgSql(write));
    if (report.differences.length) {
      lost += report.differences.filter((d) => d.kind === 'MISSING').length;
      problems.push(`${name} differs from the write tables: ${JSON.stringify(report.differences.slice(0, 3))}`);
    }
  }
  const outbox = Number((await write.query('SELECT count(*) FROM outbox')).rows[0].count);
  for (const c of await readCheckpoints(sql)) {
    if ((PROJECTION_NAMES as readonly string[]).includes(c.name) && c.eventsApplied !== outbox) {
      problems.push(`${c.name} applied ${c.eventsApplied} events, the outbox has ${outbox}`);
    }
  }

  // 6. Subscribers: per order, strictly increasing positions (no duplicate, no going
  //    back) and the latest state of every order that changed after they subscribed.
  const from = decodeRowPosition(subscribedFrom);
  const { rows: finals } = await read.query<{ id: string; version: number; tx: string; seq: string }>(
    `SELECT order_id::text AS id, version, position_tx_id::text AS tx, position_seq::text AS seq FROM order_list_view`,
  );
  for (const s of subscribers) {
    const last = new Map<string, { position: [bigint, bigint]; version: number }>();
    let duplicates = 0;
    for (const change of s.received) {
      const position = decodeRowPosition(change.position);
      const before = last.get(change.order.id);
      if (before && compare(position, before.position) <= 0) duplicates += 1;
      last.set(change.order.id, { position, version: change.order.version });
    }
    if (duplicates) problems.push(`${s.transport} subscriber: ${duplicates} duplicate or out-of-order changes`);
    let missed = 0;
    for (const f of finals) {
      if (compare([BigInt(f.tx), BigInt(f.seq)], from) <= 0) continue;
      if (last.get(f.id)?.version !== f.version) missed += 1;
    }
    if (missed) {
      lost += missed;
      problems.push(`${s.transport} subscriber: latest state of ${missed} orders not received`);
    }
  }
  return { acknowledged: acked.length, problems, lost };
}
