// Read-your-writes and exactly-once at the edges: a STALLED projection, INLINE mode
// (mixed across processes, during a rebuild swap, out of commit order, with status
// filters), a consistency wait inside a request, a rebuild right after a swap, and a
// batch published late after a lease handover. Each case was a way to break the
// consistency promise; each test drives the real engine against real PostgreSQL.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, CHANNELS, type PositionMessage } from '../../src/bus/bus.ts';
import { loadConfig } from '../../src/config.ts';
import { pgSql, type Sql } from '../../src/db/sql.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { comparePositions, decodePosition } from '../../src/outbox/position.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { ProjectionEngine } from '../../src/projections/engine.ts';
import { startRebuild } from '../../src/projections/rebuild.ts';
import { ConsistencyTimeout } from '../../src/read/consistency.ts';
import { type OrderListChange, orderListChanges } from '../../src/readModels/orderListView/live.ts';
import { orderListViewProjection } from '../../src/readModels/orderListView/projection.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { createApp } from '../../src/runtime.ts';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { addOrderItem, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until, withPoisonedSearch } from '../support/projections.ts';
import { adminContext, type Catalogue, givenCatalogue } from '../support/workload.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Consumes a live order-list stream in the background, collecting what it yields. */
function follow(stream: AsyncIterableIterator<OrderListChange>) {
  const items: OrderListChange[] = [];
  let onItem: ((c: OrderListChange) => void) | undefined;
  const done = (async () => {
    for await (const change of stream) {
      items.push(change);
      onItem?.(change);
    }
  })().catch(() => {});
  return {
    items,
    /** Calls `handler` for every item from now on. */
    each(handler: (c: OrderListChange) => void) {
      onItem = handler;
    },
    async stop() {
      await stream.return?.();
      await done;
    },
  };
}

function orderFor(t: TestApp, catalogue: Catalogue, customer = 0, app = t.app) {
  return createOrder(adminContext(app), {
    customerId: catalogue.customerIds[customer]!,
    items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
  });
}

/** Waits until a backend of this database waits on a lock in a statement containing `text`. */
async function blockedOn(t: TestApp, text: string): Promise<void> {
  await until(`a statement on ${text} to wait for a lock`, async () => {
    const { rowCount } = await t.pool.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
      [`%${text}%`],
    );
    return Boolean(rowCount);
  });
}

const REBUILD = `mutation($name: ProjectionName!) { rebuildProjection(input: { name: $name }) { __typename } }`;

function rebuild(t: TestApp, name: string) {
  return t.request({ query: REBUILD, variables: { name } }, { authorization: `Bearer ${t.adminToken}` });
}

/** Waits until no rebuild is in progress (the last one swapped in). */
function noRebuildRunning(t: TestApp, what: string, timeoutMs?: number) {
  return until(
    what,
    async () => {
      const { rowCount } = await t.pool.query('SELECT 1 FROM projection_rebuilds');
      return rowCount === 0;
    },
    timeoutMs,
  );
}

describe('a STALLED projection', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  let poisonCustomerId: string | undefined;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
    await t.startEngine({
      projections: withPoisonedSearch(() => poisonCustomerId),
      onFailure: 'stall',
      maxAttempts: 2,
      retryBaseMs: 10,
      pollMs: 100,
    });
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('never reports the position it failed on as reached: a wait for that token times out', async () => {
    const published: PositionMessage[] = [];
    const off = await t.app.bus.subscribe(CHANNELS.positions, (m) => published.push(m as PositionMessage));
    const earlier = await orderFor(t, catalogue, 0);
    poisonCustomerId = (await createCustomer(adminContext(t.app), { name: 'Poison', email: 'poison@example.com' }))
      .customerId;
    const poison = await createOrder(adminContext(t.app), {
      customerId: poisonCustomerId!,
      items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
    });
    await until('order_search to stall', async () => {
      const search = (await readCheckpoints(pgSql(t.pool))).find((c) => c.name === 'order_search');
      return search?.state === 'STALLED' && search;
    });
    // Every position published for it stays below the event it failed on.
    const failedAt = decodePosition(poison.position);
    const search = published.filter((m) => m.projection === 'order_search');
    expect(search.length).toBeGreaterThan(0);
    for (const m of search) expect(comparePositions(decodePosition(m.position), failedAt)).toBeLessThan(0);
    await expect(t.app.watcher!.waitFor(['order_search'], poison.position, 1_000)).rejects.toBeInstanceOf(
      ConsistencyTimeout,
    );
    const { json } = await t.request(
      {
        query: `query($at: String!) { searchOrders(text: "Poison", consistency: { atLeast: $at, timeoutMs: 1000 }) { total } }`,
        variables: { at: poison.position },
      },
      { authorization: `Bearer ${t.adminToken}` },
    );
    expect(json.errors?.[0]?.extensions?.code).toBe('CONSISTENCY_TIMEOUT');
    // What it did apply, a wait answers.
    await t.app.watcher!.waitFor(['order_search'], earlier.position, 5_000);
    off();
  });
});

describe('a STALLED rebuild shadow', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
    // order_search fails on every batch of its rebuild shadow, never on the live tables.
    const projections = ALL_PROJECTIONS.map((p) =>
      p.name !== 'order_search'
        ? p
        : {
            ...p,
            apply: async (sql: Sql, events: StoredEvent[]) => {
              const [path] = await sql.query<{ search_path: string }>('SHOW search_path');
              if (path?.search_path.includes('rebuild_')) throw new Error('the shadow cannot index');
              return p.apply(sql, events);
            },
          },
    );
    await t.startEngine({ projections, maxAttempts: 2, retryBaseMs: 10, pollMs: 100 });
    for (let i = 0; i < 3; i++) await orderFor(t, catalogue, i % 2);
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('publishes nothing under the live projection name: its positions never move backwards', async () => {
    const published: PositionMessage[] = [];
    const off = await t.app.bus.subscribe(CHANNELS.positions, (m) => {
      if ((m as PositionMessage).projection === 'order_search') published.push(m as PositionMessage);
    });
    await orderFor(t, catalogue, 0);
    await caughtUp(t.pools);
    const started = await rebuild(t, 'order_search');
    expect(started.json.errors).toBeUndefined();
    await until('the shadow to stall', async () => {
      const shadow = (await readCheckpoints(pgSql(t.pool))).find((c) => c.name === 'order_search#rebuild');
      return shadow?.state === 'STALLED';
    });
    await orderFor(t, catalogue, 1);
    await caughtUp(t.pools);
    off();
    // The operator sees why, and a new rebuildProjection starts a new run.
    const status = await t.request(
      { query: '{ projections { name rebuild { stalled lastError } } }' },
      { authorization: `Bearer ${t.adminToken}` },
    );
    const search = (status.json.data as { projections: { name: string; rebuild: unknown }[] }).projections.find(
      (p) => p.name === 'order_search',
    );
    expect(search?.rebuild).toEqual({ stalled: true, lastError: 'the shadow cannot index' });
    const runBefore = (await t.pool.query('SELECT run_id FROM projection_rebuilds')).rows;
    expect((await rebuild(t, 'order_search')).json.errors).toBeUndefined();
    const runAfter = (await t.pool.query('SELECT run_id FROM projection_rebuilds')).rows;
    expect(runAfter).toHaveLength(1);
    expect(runAfter).not.toEqual(runBefore);
    expect(published.length).toBeGreaterThan(0);
    const live = (await readCheckpoints(pgSql(t.pool))).find((c) => c.name === 'order_search')!;
    for (let i = 0; i < published.length; i++) {
      const at = decodePosition(published[i]!.position);
      expect(comparePositions(at, live.position)).toBeLessThanOrEqual(0);
      if (i > 0) expect(comparePositions(at, decodePosition(published[i - 1]!.position))).toBeGreaterThan(0);
    }
  });
});

describe('INLINE in one process while another runs the projection ASYNC (rolling deploy)', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
  });
  afterAll(async () => t.close());

  it('applies an event the INLINE apply could not apply (its row was behind), instead of skipping it', async () => {
    const inline = createApp({
      config: loadConfig({
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        ...t.databaseEnv,
        PROJECTION_MODES: 'order_list_view=INLINE,order_analytics=INLINE',
      }),
      pool: t.pool,
      log: t.app.log,
      tokens: t.app.tokens,
      bus: t.app.bus,
    });
    try {
      // Versions 1 and 2 through the ASYNC process (its engine is not running yet), so
      // the INLINE process's read-model row is behind when version 3 arrives.
      const order = await orderFor(t, catalogue, 0);
      await addOrderItem(adminContext(t.app), {
        orderId: order.orderId,
        productId: catalogue.productIds[1]!,
        quantity: 2,
      });
      await addOrderItem(adminContext(inline), {
        orderId: order.orderId,
        productId: catalogue.productIds[0]!,
        quantity: 4,
      });
      await updateOrderStatus(adminContext(inline), { orderId: order.orderId, status: 'CONFIRMED' });
      await t.startEngine();
      await caughtUp(t.pools);
      const { rows } = await t.pool.query(
        'SELECT version, item_count, status FROM order_list_view WHERE order_id = $1',
        [order.orderId],
      );
      expect(rows[0]).toEqual({ version: 4, item_count: 7, status: 'CONFIRMED' });
      await expectReadModelsMatchWriteTables(t.pools);
    } finally {
      await inline.prisma.$disconnect();
    }
  });
});

describe('INLINE order_list_view', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp({ env: { PROJECTION_MODES: 'order_list_view=INLINE' } });
    catalogue = await givenCatalogue(t.app, 2, 4);
    await t.startEngine({ pollMs: 100 });
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('finds the customer copy when its command runs during a rebuild swap', async () => {
    const customerName = 'Swap Window';
    const { customerId } = await createCustomer(adminContext(t.app), { name: customerName, email: 'sw@example.com' });
    await caughtUp(t.pools);
    // Hold the swap inside its transaction: it has recorded the new version and replaced
    // the customer copies, and waits to move the live tables (a reader holds them).
    const holder = new pg.Client({ connectionString: t.databaseUrl });
    await holder.connect();
    let pending: ReturnType<typeof createOrder> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE order_list_view IN ACCESS SHARE MODE');
      const started = await rebuild(t, 'order_list_view');
      expect(started.json.errors).toBeUndefined();
      await blockedOn(t, 'order_list_view');
      // The INLINE command waits for the swap at the read model's version (inline.ts),
      // before it looks for its customer copy.
      pending = createOrder(adminContext(t.app), {
        customerId,
        items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
      });
      await blockedOn(t, 'projection_versions');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const order = await pending!;
    await noRebuildRunning(t, 'the rebuild to finish');
    await caughtUp(t.pools);
    const { rows } = await t.pool.query('SELECT customer_name FROM order_list_view WHERE order_id = $1', [
      order.orderId,
    ]);
    expect(rows[0]?.customer_name).toBe(customerName);
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('swaps while a command holds its customer copy and then writes the list, without a deadlock', async () => {
    const { customerId } = await createCustomer(adminContext(t.app), { name: 'Lock Order', email: 'lo@example.com' });
    await createOrder(adminContext(t.app), {
      customerId,
      items: [{ productId: catalogue.productIds[0]!, quantity: 2 }],
    });
    await caughtUp(t.pools);
    const logsBefore = t.logs.length;
    // An INLINE command's lock order, statement by statement: its customer copy first
    // (FOR UPDATE), then the list rows. It pauses between the two while the swap runs.
    const command = new pg.Client({ connectionString: t.databaseUrl });
    await command.connect();
    try {
      await command.query('BEGIN');
      await command.query(
        `SELECT 1 FROM projection_customers WHERE projection = 'order_list_view' AND customer_id = $1 FOR UPDATE`,
        [customerId],
      );
      const started = await rebuild(t, 'order_list_view');
      expect(started.json.errors).toBeUndefined();
      await blockedOn(t, 'projection_customers');
      // Swapping the tables first and the copies second made this statement and the swap wait
      // on each other until PostgreSQL aborted one of them (40P01).
      await command.query('SELECT count(*) FROM order_list_view WHERE customer_id = $1', [customerId]);
      await command.query('COMMIT');
    } finally {
      await command.end();
    }
    await noRebuildRunning(t, 'the rebuild to finish');
    // Neither side was PostgreSQL's deadlock victim: the command committed, the swap never failed.
    expect(t.logs.slice(logsBefore).filter((l) => l.msg === 'rebuild swap failed; retrying')).toEqual([]);
    const checkpoint = (await readCheckpoints(pgSql(t.pool))).find((c) => c.name === 'order_list_view');
    expect(checkpoint?.state).toBe('LIVE');
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('never hands a subscriber a position past a row that commits later with a lower position', async () => {
    const start = await orderFor(t, catalogue, 1);
    await caughtUp(t.pools);
    // A takes its transaction id first and commits last; B commits in between.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered = false;
    const hold = async () => {
      if (entered) return;
      entered = true;
      await gate;
    };
    t.app.hooks.afterAppend!.push(hold);
    const a = orderFor(t, catalogue, 2);
    await until('A to be inside its transaction', async () => entered);
    const b = await orderFor(t, catalogue, 3);
    t.app.hooks.afterAppend!.pop();

    // A client resumes from before both, and leaves after a moment with what it got.
    const first = follow(orderListChanges([t.pool], t.app.bus, { customerId: null, status: null }, start.position));
    await sleep(1_500);
    await first.stop();
    const last = first.items.at(-1)?.position ?? start.position;
    release();
    const orderA = await a;
    await caughtUp(t.pools);

    const second = follow(orderListChanges([t.pool], t.app.bus, { customerId: null, status: null }, last));
    const seen = () => new Set([...first.items, ...second.items].map((c) => c.order.orderId));
    await until('A and B to reach the client', async () => seen().has(orderA.orderId) && seen().has(b.orderId), 10_000);
    await second.stop();
  });

  it('tells a subscriber filtered on PENDING to drop an order confirmed by an INLINE command', async () => {
    const pending = follow(orderListChanges([t.pool], t.app.bus, { customerId: null, status: 'PENDING' }, null));
    await sleep(500);
    const order = await orderFor(t, catalogue, 0);
    await until('the UPSERT', async () => pending.items.some((c) => c.order.orderId === order.orderId));
    await updateOrderStatus(adminContext(t.app), { orderId: order.orderId, status: 'CONFIRMED' });
    const removed = await until('the REMOVE', async () =>
      pending.items.find((c) => c.order.orderId === order.orderId && c.kind === 'REMOVE'),
    );
    expect(removed.order.status).toBe('CONFIRMED');
    await pending.stop();
  });
});

describe('a consistency wait inside a request', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
  });
  afterAll(async () => t.close());

  it('reads fresh after the wait, not what another field of the request loaded before it', async () => {
    // No engine yet: field `a` loads the order before the read model has it.
    const order = await orderFor(t, catalogue, 0);
    const response = t.request(
      {
        query: `query($id: ID!, $at: String!) {
          a: order(id: $id) { id }
          b: order(id: $id, consistency: { atLeast: $at, timeoutMs: 20000 }) { id version }
        }`,
        variables: { id: order.orderId, at: order.position },
      },
      { authorization: `Bearer ${t.adminToken}` },
    );
    await sleep(300);
    await t.startEngine({ pollMs: 100 });
    const { json } = await response;
    expect(json.errors).toBeUndefined();
    expect(json.data).toMatchObject({ b: { id: order.orderId, version: 1 } });
  });
});

describe('a rebuild started right after a swap', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
    await t.startEngine({ pollMs: 100 });
    for (let i = 0; i < 5; i++) await orderFor(t, catalogue, i % 2);
    await caughtUp(t.pools);
  });
  afterAll(async () => t.close());

  it('keeps its own shadow schema and finishes, whatever the previous run drops after its commit', async () => {
    // A table with a column of the read model's row type: dropping the retired table
    // (after the swap's commit) must drop that column, and waits while it is locked.
    await t.pool.query('CREATE TABLE swap_blocker (r customer_order_history)');
    const holder = new pg.Client({ connectionString: t.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE swap_blocker IN ACCESS SHARE MODE');
      expect((await rebuild(t, 'customer_order_history')).json.errors).toBeUndefined();
      await noRebuildRunning(t, 'the first run to swap in');
      await blockedOn(t, 'DROP SCHEMA');
      expect((await rebuild(t, 'customer_order_history')).json.errors).toBeUndefined();
      await orderFor(t, catalogue, 0);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    await noRebuildRunning(t, 'the second run to swap in', 30_000);
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
    const { rows } = await t.pool.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%' OR nspname LIKE 'retired\\_%'",
    );
    expect(rows).toEqual([]);
    await t.pool.query('DROP TABLE swap_blocker');
  });
});

describe('a rebuild whose shadow schema is gone', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
  });
  afterAll(async () => t.close());

  it('refuses to replay into the live tables: the shadow goes STALLED, and a new run finishes', async () => {
    for (let i = 0; i < 4; i++) await orderFor(t, catalogue, i % 2);
    await t.startEngine({ pollMs: 100 });
    await caughtUp(t.pools);
    await t.app.engine!.stop();
    // No engine runs: the rebuild is registered, then its schema is dropped by hand.
    const history = ALL_PROJECTIONS.find((p) => p.name === 'customer_order_history')!;
    expect(await startRebuild(t.pool, history, 'test')).toBe(true);
    const { rows } = await t.pool.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%'",
    );
    expect(rows).toHaveLength(1);
    await t.pool.query(`DROP SCHEMA ${rows[0]!.nspname} CASCADE`);
    const liveBefore = await t.pool.query('SELECT * FROM customer_order_history ORDER BY order_id');
    await t.startEngine({ pollMs: 100 });
    const shadow = await until('the shadow to stall', async () => {
      const c = (await readCheckpoints(pgSql(t.pool))).find((cp) => cp.name === 'customer_order_history#rebuild');
      return c?.state === 'STALLED' && c;
    });
    expect(shadow.lastError).toContain('missing');
    expect(shadow.eventsApplied).toBe(0);
    const liveAfter = await t.pool.query('SELECT * FROM customer_order_history ORDER BY order_id');
    expect(liveAfter.rows).toEqual(liveBefore.rows);
    // Starting it again replaces the stalled run, and that one swaps in.
    const again = await rebuild(t, 'customer_order_history');
    expect(again.json.errors).toBeUndefined();
    await noRebuildRunning(t, 'the new run to swap in');
    await expectReadModelsMatchWriteTables(t.pools);
  });
});

/**
 * A bus through which one order_list_view batch reaches subscribers late: after the
 * next batch, as when a projector lost its lease between commit and publish and the
 * new owner's batch went out first.
 */
function reorderingBus(inner: Bus) {
  let capture = false;
  let held: [string, unknown][] | null = null;
  const bus: Bus & { holdNextBatch(): void } = {
    ...inner,
    holdNextBatch() {
      capture = true;
      held = [];
    },
    async publish(channel, message) {
      const m = message as { projection?: string };
      if (capture && m.projection === 'order_list_view') {
        held!.push([channel, message]);
        if (channel === CHANNELS.positions) capture = false;
        return;
      }
      await inner.publish(channel, message);
      if (!capture && held && channel === CHANNELS.positions && m.projection === 'order_list_view') {
        const late = held;
        held = null;
        setTimeout(() => {
          for (const [c, msg] of late) void inner.publish(c, msg);
        }, 500);
      }
    },
  };
  return bus;
}

describe('a batch published late after a lease handover', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  let engine: ProjectionEngine;
  const bus = { current: undefined as ReturnType<typeof reorderingBus> | undefined };
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 2, 2);
    bus.current = reorderingBus(t.app.bus);
    engine = new ProjectionEngine({
      pool: t.pool,
      databaseUrl: t.databaseUrl,
      log: t.app.log,
      bus: bus.current,
      projections: [orderListViewProjection],
      pollMs: 100,
    });
    await engine.start();
    await caughtUp(t.pools, ['order_list_view']);
  });
  afterAll(async () => {
    await engine.stop();
    await t.close();
  });

  it('cannot leave a client holding the later batch position without the earlier batch rows', async () => {
    const live = follow(orderListChanges([t.pool], t.app.bus, { customerId: null, status: null }, null));
    await sleep(300);
    // An ordinary batch first, so the stream knows where the chain stands.
    const before = await orderFor(t, catalogue, 0);
    await until('the first batch', async () => live.items.some((c) => c.order.orderId === before.orderId));
    // The client disconnects right after its next change, and resumes from it.
    let firstPosition: string | undefined;
    live.each((c) => {
      firstPosition ??= c.position;
      void live.stop();
    });
    bus.current!.holdNextBatch();
    const x = await orderFor(t, catalogue, 1);
    await caughtUp(t.pools, ['order_list_view']);
    const y = await orderFor(t, catalogue, 0);
    await until('the client to get a change', async () => firstPosition);
    await live.stop();
    const resumed = follow(orderListChanges([t.pool], t.app.bus, { customerId: null, status: null }, firstPosition!));
    const seen = () =>
      new Set(
        [...live.items, ...resumed.items].filter((c) => c.order.orderId !== before.orderId).map((c) => c.order.orderId),
      );
    await sleep(1_500);
    await until('X and Y to reach the client', async () => seen().has(x.orderId) && seen().has(y.orderId), 5_000);
    await resumed.stop();
  });
});
