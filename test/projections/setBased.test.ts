// Projections apply a batch set-based (load the touched rows, apply the events in memory,
// write a few statements). The result must not depend on how the outbox is cut into
// batches: one stream of real command events is applied event by event, in batches of
// 1,000, in random batch sizes and with overlapping (re-applied) batches, each into its
// own copy of the read-model tables, and every copy must hold the same rows, equal to a
// recomputation from the write tables. order_list_view's changes must tell a subscriber
// filtered by status exactly what its list holds after each batch.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql, type Sql } from '../../src/db/sql.ts';
import { ORDER_STATUSES } from '../../src/events/order.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { ZERO_POSITION } from '../../src/outbox/position.ts';
import { readCommitted } from '../../src/outbox/reader.ts';
import { PROJECTION_NAMES, type ReadModelChange } from '../../src/projections/projection.ts';
import { classify } from '../../src/readModels/orderListView/live.ts';
import { orderListViewProjection } from '../../src/readModels/orderListView/projection.ts';
import { orderViewFromRow } from '../../src/readModels/orderListView/queries.ts';
import { ALL_PROJECTIONS, verifyProjection } from '../../src/readModels/registry.ts';
import { eraseCustomer, renameCustomer } from '../../src/write/customer/handle.ts';
import { addOrderItem, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { until } from '../support/projections.ts';
import { adminContext, type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;
let events: StoredEvent[];
/** order_list_view's changes per batch, by batch size. */
const changesBySize = new Map<number, ReadModelChange[][]>();

const TABLES = [...new Set([...ALL_PROJECTIONS.flatMap((p) => p.tables), 'projection_customers'])];

/** A fresh, empty copy of every read-model table in its own schema. */
async function freshSchema(name: string): Promise<void> {
  await t.readPool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await t.readPool.query(`CREATE SCHEMA ${name}`);
  for (const table of TABLES)
    await t.readPool.query(`CREATE TABLE ${name}.${table} (LIKE public.${table} INCLUDING ALL)`);
}

/**
 * Applies `batches` to the tables of `schema`, each batch in one transaction per
 * projection (as the engine does), and returns order_list_view's changes per batch.
 */
async function applyBatches(schema: string, batches: StoredEvent[][]): Promise<ReadModelChange[][]> {
  const client = await t.readPool.connect();
  const sql = pgSql(client);
  const changes: ReadModelChange[][] = [];
  try {
    for (const batch of batches) {
      for (const projection of ALL_PROJECTIONS) {
        await client.query('BEGIN');
        await client.query(`SET LOCAL search_path = ${schema}, public`);
        await projection.apply(sql, batch);
        if (projection === orderListViewProjection) changes.push(await tell(sql, batch));
        await client.query('COMMIT');
      }
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return changes;
}

/** order_list_view's changes for a batch just applied, as the engine asks for them. */
function tell(sql: Sql, batch: StoredEvent[]): Promise<ReadModelChange[]> {
  return orderListViewProjection.changes!(sql, batch, ZERO_POSITION, batch.at(-1)!.position);
}

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

function randomChunks<T>(xs: T[], max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; ) {
    const size = 1 + Math.floor(Math.random() * max);
    out.push(xs.slice(i, i + size));
    i += size;
  }
  return out;
}

/** Every row of every read-model table of `schema`, in a stable order, as text. */
async function dump(schema: string): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of TABLES) {
    const { rows } = await t.readPool.query<{ row: string }>(
      `SELECT to_jsonb(t)::text AS row FROM ${schema}.${table} t`,
    );
    tables[table] = rows.map((r) => r.row).sort();
  }
  return tables;
}

async function orderListRows(client: pg.ClientBase | pg.Pool, schema: string) {
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT order_id::text AS order_id, customer_id::text AS customer_id, customer_name, customer_email, status,
            total_cents::float8 AS total_cents, item_count, line_count, version, created_at, updated_at,
            position_tx_id::text AS position_tx_id, position_seq::text AS position_seq, currency
       FROM ${schema}.order_list_view`,
  );
  return new Map(rows.map((r) => [String(r.order_id), r]));
}

/** The whole outbox, once the read horizon has passed all of it (other databases' transactions hold it back). */
async function everyEvent(): Promise<StoredEvent[]> {
  const { rows } = await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
  return until('every event to be readable', async () => {
    const read = await readCommitted(pgSql(t.pool), ZERO_POSITION, 100_000);
    return read.length === rows[0]!.n && read;
  });
}

const withoutPreviousStatus = (row: Record<string, unknown>) => {
  const { previous_status: _, ...rest } = row;
  return rest;
};

beforeAll(async () => {
  t = await createTestApp({ poolSize: 20 });
  catalogue = await givenCatalogue(t.app, 6, 8);
  const ctx = adminContext(t.app);
  const result = await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 200 });
  expect(result.acknowledged).toBeGreaterThan(200);
  // An order that moves twice, then once more; renames and erasures of customers with orders.
  const order = await createOrder(ctx, {
    customerId: catalogue.customerIds[0]!,
    items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
  });
  await addOrderItem(ctx, { orderId: order.orderId, productId: catalogue.productIds[1]!, quantity: 2 });
  await updateOrderStatus(ctx, { orderId: order.orderId, status: 'CONFIRMED' });
  await renameCustomer(ctx, { customerId: catalogue.customerIds[0]!, name: 'Renamed Between' });
  await updateOrderStatus(ctx, { orderId: order.orderId, status: 'SHIPPED' });
  await renameCustomer(ctx, { customerId: catalogue.customerIds[1]!, name: 'About To Go' });
  await eraseCustomer(ctx, { customerId: catalogue.customerIds[1]! });
  await eraseCustomer(ctx, { customerId: catalogue.customerIds[2]! });
  await renameCustomer(ctx, { customerId: catalogue.customerIds[3]!, name: 'Renamed Last' });
  events = await everyEvent();
  expect(events.length).toBeGreaterThan(500);
  for (const type of ['OrderCreated', 'OrderItemAdded', 'OrderStatusChanged', 'CustomerRenamed', 'CustomerErased']) {
    expect(
      events.some((e) => e.event.type === type),
      type,
    ).toBe(true);
  }
}, 120_000);
afterAll(async () => t.close());

describe('set-based projection batches', () => {
  it('build the same rows whatever the batch size, and rows equal to the write tables', async () => {
    await freshSchema('batch_one');
    await freshSchema('batch_thousand');
    await freshSchema('batch_random');
    changesBySize.set(1, await applyBatches('batch_one', chunks(events, 1)));
    changesBySize.set(1000, await applyBatches('batch_thousand', chunks(events, 1000)));
    await applyBatches('batch_random', randomChunks(events, 60));

    const reference = await dump('batch_one');
    for (const table of TABLES) expect(reference[table]!.length, `${table} is empty`).toBeGreaterThan(0);
    expect(await dump('batch_thousand')).toEqual(reference);
    expect(await dump('batch_random')).toEqual(reference);

    // And each equals its recomputation from the write tables.
    const client = await t.readPool.connect();
    try {
      await client.query('SET search_path = batch_thousand, public');
      for (const name of PROJECTION_NAMES) {
        const report = await verifyProjection(pgSql(client), name, undefined, pgSql(t.pool));
        expect(report.differences, name).toEqual([]);
        expect(report.rowsChecked).toBeGreaterThan(0);
      }
    } finally {
      await client.query('RESET search_path');
      client.release();
    }
  }, 180_000);

  it('apply an event already applied as a no-op, in any batch', async () => {
    await freshSchema('batch_again');
    // Overlapping batches: each re-applies part of the one before it (as a retried or
    // swapped-in batch would), plus the whole stream once more at the end.
    const batches: StoredEvent[][] = [];
    for (let start = 0; start < events.length; ) {
      const end = Math.min(events.length, start + 1 + Math.floor(Math.random() * 80));
      batches.push(events.slice(Math.max(0, start - Math.floor(Math.random() * 40)), end));
      start = end;
    }
    batches.push(events);
    const changes = await applyBatches('batch_again', batches);
    expect(await dump('batch_again')).toEqual(await dump('batch_one'));
    // Applying everything again changes no row; what it tells is every row as it is.
    const table = await orderListRows(t.readPool, 'batch_again');
    expect(changes.at(-1)!.map((c) => withoutPreviousStatus(c.row))).toEqual(
      expect.arrayContaining([...table.values()]),
    );
    expect(changes.at(-1)!.length).toBe(table.size);
  }, 180_000);

  it('publish each changed order_list_view row once per batch, as it is after the batch, in position order', async () => {
    await freshSchema('batch_changes');
    const batches = randomChunks(events, 40);
    const client = await t.readPool.connect();
    const sql = pgSql(client);
    try {
      let before = await orderListRows(client, 'batch_changes');
      for (const batch of batches) {
        await client.query('BEGIN');
        await client.query('SET LOCAL search_path = batch_changes, public');
        await orderListViewProjection.apply(sql, batch);
        const changes = await tell(sql, batch);
        await client.query('COMMIT');
        const after = await orderListRows(client, 'batch_changes');
        const differing = [...after.keys()].filter(
          (id) => JSON.stringify(after.get(id)) !== JSON.stringify(before.get(id)),
        );
        expect(changes.map((c) => c.key).sort()).toEqual(differing.sort());
        for (const change of changes) {
          expect(withoutPreviousStatus(change.row)).toEqual(after.get(change.key));
          const was = before.get(change.key);
          const statusBefore = was && was.status !== change.row.status ? was.status : undefined;
          expect(change.row.previous_status).toBe(statusBefore);
        }
        const positions = changes.map((c) => [
          BigInt(String(c.row.position_tx_id)),
          BigInt(String(c.row.position_seq)),
        ]);
        for (let i = 1; i < positions.length; i++) {
          const [a, b] = [positions[i - 1]!, positions[i]!];
          expect(a[0]! < b[0]! || (a[0] === b[0] && a[1]! <= b[1]!), 'changes in position order').toBe(true);
        }
        before = after;
      }
    } finally {
      client.release();
    }
  }, 180_000);

  it('let a subscriber filtered by status keep exactly the orders in that status, whatever the batch size', async () => {
    await freshSchema('batch_seven');
    changesBySize.set(7, await applyBatches('batch_seven', chunks(events, 7)));
    // Every run built the same rows (see above).
    const table = await orderListRows(t.readPool, 'batch_one');
    for (const [size, changes] of changesBySize) {
      for (const status of [...ORDER_STATUSES, null]) {
        const list = new Map<string, string>();
        for (const change of changes.flat()) {
          const kind = classify(orderViewFromRow(change.row), { customerId: null, status });
          if (kind === 'UPSERT') list.set(change.key, String(change.row.version));
          if (kind === 'REMOVE') list.delete(change.key);
        }
        const expected = [...table.values()]
          .filter((r) => status === null || r.status === status)
          .map((r) => [String(r.order_id), String(r.version)] as const);
        expect(new Map(expected), `batches of ${size}, status ${status}`).toEqual(list);
      }
    }
  }, 180_000);

  it('tell a subscriber of PENDING orders to drop an order that moved twice in one batch', async () => {
    const ctx = adminContext(t.app);
    const order = await createOrder(ctx, {
      customerId: catalogue.customerIds[4]!,
      items: [{ productId: catalogue.productIds[2]!, quantity: 1 }],
    });
    const first = await everyEvent();
    await updateOrderStatus(ctx, { orderId: order.orderId, status: 'CONFIRMED' });
    await updateOrderStatus(ctx, { orderId: order.orderId, status: 'SHIPPED' });
    const all = await everyEvent();
    await freshSchema('batch_twice');
    const [, changes] = await applyBatches('batch_twice', [first, all.slice(first.length)]);
    const change = changes!.find((c) => c.key === order.orderId)!;
    expect(change.row).toMatchObject({ status: 'SHIPPED', previous_status: 'PENDING', version: 3 });
    const view = orderViewFromRow(change.row);
    expect(classify(view, { customerId: null, status: 'PENDING' })).toBe('REMOVE');
    expect(classify(view, { customerId: null, status: 'CONFIRMED' })).toBeNull();
    expect(classify(view, { customerId: null, status: 'SHIPPED' })).toBe('UPSERT');
  }, 60_000);
});
