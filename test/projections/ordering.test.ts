import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { comparePositions, type Position } from '../../src/outbox/position.ts';
import { readCommitted } from '../../src/outbox/reader.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { renameCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, expectReadModelsMatchWriteTables } from '../support/projections.ts';
import { adminContext, type Catalogue, givenCatalogue } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;
const applied = new Map<string, Position[]>();

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 3, 3);
  // Every projection records what it applies, in the order it applies it.
  const recording = ALL_PROJECTIONS.map((p) => ({
    ...p,
    apply: async (sql: Parameters<typeof p.apply>[0], events: StoredEvent[]) => {
      const changes = await p.apply(sql, events);
      applied.set(p.name, [...(applied.get(p.name) ?? []), ...events.map((e) => e.position)]);
      return changes;
    },
  }));
  await t.startEngine({ projections: recording, pollMs: 50 });
  await caughtUp(t.pools);
});
afterAll(async () => t.close());
beforeEach(() => {
  t.app.hooks.afterAppend = [];
});

/** Runs a rename whose transaction stays open, after appending its event, until released. */
async function openRename(customerId: string) {
  let release!: (commit: boolean) => void;
  const gate = new Promise<boolean>((resolve) => {
    release = resolve;
  });
  let appended: StoredEvent[] = [];
  let signalAppended!: () => void;
  const appendedNow = new Promise<void>((resolve) => {
    signalAppended = resolve;
  });
  t.app.hooks.afterAppend = [
    async (_tx, events, command) => {
      if (command !== 'renameCustomer') return;
      appended = events;
      signalAppended();
      if (!(await gate)) throw new Error('rolled back by the test');
    },
  ];
  const done = renameCustomer(adminContext(t.app), { customerId, name: 'Held Open' }).then(
    () => 'committed' as const,
    () => 'rolled back' as const,
  );
  await appendedNow;
  return { release, done, position: appended[0]!.position };
}

async function orderInListView(orderId: string): Promise<boolean> {
  const { rowCount } = await t.readPool.query('SELECT 1 FROM order_list_view WHERE order_id = $1', [orderId]);
  return (rowCount ?? 0) > 0;
}

function expectAppliedInOrderExactlyOnce(): void {
  for (const [name, positions] of applied) {
    const keys = positions.map((p) => `${p.txId}:${p.seq}`);
    expect(new Set(keys).size, `${name} applied an event twice`).toBe(keys.length);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!), `${name} applied out of order`).toBeLessThan(0);
    }
  }
}

describe('the outbox reader with transactions that commit out of order', () => {
  it('does not pass an event of a transaction still open, then applies both in order once it commits', async () => {
    const a = await openRename(catalogue.customerIds[0]!);
    const b = await createOrder(adminContext(t.app), {
      customerId: catalogue.customerIds[1]!,
      items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
    });
    // B committed and NOTIFYed; give the engine many chances to (wrongly) move on.
    await new Promise((r) => setTimeout(r, 700));
    for (const checkpoint of await readCheckpoints(pgSql(t.readPool))) {
      expect(comparePositions(checkpoint.position, a.position), checkpoint.name).toBeLessThan(0);
    }
    expect(await orderInListView(b.orderId)).toBe(false);

    a.release(true);
    expect(await a.done).toBe('committed');
    await caughtUp(t.pools);
    expect(await orderInListView(b.orderId)).toBe(true);
    const { rows } = await t.readPool.query('SELECT customer_name FROM order_list_view WHERE customer_id = $1', [
      catalogue.customerIds[0],
    ]);
    for (const row of rows) expect(row.customer_name).toBe('Held Open');
    const listView = applied.get('order_list_view')!.map((p) => `${p.txId}:${p.seq}`);
    expect(listView.indexOf(`${a.position.txId}:${a.position.seq}`)).toBeGreaterThanOrEqual(0);
    expectAppliedInOrderExactlyOnce();
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('applies the later transaction once the open one rolls back, and nothing of the rolled-back one', async () => {
    const a = await openRename(catalogue.customerIds[2]!);
    const b = await createOrder(adminContext(t.app), {
      customerId: catalogue.customerIds[1]!,
      items: [{ productId: catalogue.productIds[1]!, quantity: 2 }],
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await orderInListView(b.orderId)).toBe(false);
    a.release(false);
    expect(await a.done).toBe('rolled back');
    await caughtUp(t.pools);
    const { rows } = await t.readPool.query('SELECT DISTINCT customer_name FROM order_search WHERE customer_id = $1', [
      catalogue.customerIds[2],
    ]);
    for (const row of rows) expect(row.customer_name).toMatch(/^Shopper/);
    const { rowCount } = await t.pool.query(
      `SELECT 1 FROM outbox WHERE payload->>'name' = 'Held Open' AND aggregate_id = $1`,
      [catalogue.customerIds[2]],
    );
    expect(rowCount).toBe(0);
    expectAppliedInOrderExactlyOnce();
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('orders transaction ids as numbers, not as text (9 before 10)', async () => {
    // Rows stamped by hand with ids below any running transaction: 9 must come before 10.
    const client = await t.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO outbox (tx_id, event_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
         VALUES ('10', gen_random_uuid(), 'Probe', 'Probe', gen_random_uuid(), 1, '{}'),
                ('9', gen_random_uuid(), 'Probe', 'Probe', gen_random_uuid(), 1, '{}')`,
      );
      const events = await readCommitted(pgSql(client), { txId: 8n, seq: 0n }, 2);
      expect(events.map((e) => e.position.txId)).toEqual([9n, 10n]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
