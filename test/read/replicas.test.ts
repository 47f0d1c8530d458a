// Queries on a streaming replica (READ_REPLICA_URLS), on a real primary/standby pair:
// a token is never answered from a replica that has not replayed it, a stopped replica
// costs no request an error, and a lagging one leaves the rotation until it catches up.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BOTH_SIDES, migrate } from '../../src/db/migrate.ts';
import { comparePositions, decodePosition } from '../../src/outbox/position.ts';
import { type OrderListChange, orderListChanges } from '../../src/readModels/orderListView/live.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { type ReplicaPair, startReplicaPair } from '../support/replica.ts';
import { type Catalogue, givenCatalogue } from '../support/workload.ts';

const PLACE = `mutation($input: CreateOrderInput!) {
  createOrder(input: $input) { __typename ... on OrderPayload { position order { id } } }
}`;
const ORDER = `query($id: ID!, $consistency: ConsistencyInput) { order(id: $id, consistency: $consistency) { id } }`;

interface ReadSource {
  name: string;
  lagMs?: number | null;
  positions?: Record<string, string>;
}

let pair: ReplicaPair;
let t: TestApp;
let catalogue: Catalogue;

/**
 * The replicated primary is the read database: the one database of the default layout,
 * or, in a separate-layout run (TEST_READ_DATABASE=separate), the read database beside
 * the spec's write database.
 */
const separate = inject('readTemplateDatabase') !== null;

beforeAll(async () => {
  pair = await startReplicaPair({
    database: 'parallax_replicas',
    prepare: async (url) => void (await migrate(url, separate ? ['read'] : BOTH_SIDES)),
  });
  t = await createTestApp({
    ...(separate ? { readDatabaseUrl: pair.primaryUrl } : { databaseUrl: pair.primaryUrl }),
    env: { READ_REPLICA_URLS: pair.replicaUrl, READ_REPLICA_CHECK_MS: '100', READ_REPLICA_MAX_LAG_MS: '5000' },
  });
  expect(t.readDatabaseUrl !== undefined).toBe(separate);
  catalogue = await givenCatalogue(t.app, 3, 3);
  await t.startEngine({ pollMs: 200 });
  await caughtUp(t.pools);
  await pair.caughtUp();
  await until('the replica to be in rotation', async () => t.app.reads.statuses()[0]!.inRotation);
}, 180_000);
afterAll(async () => {
  await t?.close();
  await pair?.stop();
});

async function request(query: string, variables: Record<string, unknown>) {
  const { json } = await t.request({ query, variables }, { authorization: `Bearer ${t.adminToken}` });
  return json as {
    data?: Record<string, { id: string } | null> & { createOrder?: { position: string; order: { id: string } } };
    errors?: unknown[];
    extensions?: { readSource?: ReadSource };
  };
}

async function place(i: number) {
  const res = await request(PLACE, {
    input: {
      customerId: catalogue.customerIds[i % 3]!,
      items: [{ productId: catalogue.productIds[i % 3]!, quantity: 1 }],
    },
  });
  if (!res.data?.createOrder?.position) throw new Error(JSON.stringify(res));
  return res.data.createOrder;
}

describe('queries on a streaming replica', () => {
  it('answers each of 200 create-then-query pairs with its write while the replica replays 300 ms late', async () => {
    await pair.setApplyDelay(300);
    try {
      // The delay is real: without a token, a read right after the write misses it on the replica.
      const missed = [];
      for (let i = 0; i < 10; i++) {
        const { order } = await place(i);
        const res = await request(ORDER, { id: order.id });
        if (res.data?.order === null && res.extensions?.readSource?.name === 'replica-1') missed.push(order.id);
      }
      expect(missed.length).toBeGreaterThan(0);

      const answers: { seen: boolean; errors?: unknown[]; source?: ReadSource; token: string }[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async (_, writer) => {
          for (let i = 0; i < 25; i++) {
            const { position, order } = await place(writer * 25 + i);
            const res = await request(ORDER, { id: order.id, consistency: { atLeast: position, timeoutMs: 10_000 } });
            answers.push({
              seen: res.data?.order?.id === order.id,
              errors: res.errors,
              source: res.extensions?.readSource,
              token: position,
            });
          }
        }),
      );
      expect(answers).toHaveLength(200);
      expect(answers.filter((a) => a.errors)).toEqual([]);
      expect(answers.filter((a) => !a.seen)).toEqual([]);
      // The replica answered (it waited for its own replay), and said how far it was.
      const fromReplica = answers.filter((a) => a.source?.name === 'replica-1');
      expect(fromReplica.length).toBeGreaterThan(0);
      for (const a of fromReplica) {
        const own = decodePosition(a.source!.positions!.order_list_view!);
        const token = decodePosition(a.token);
        expect(own.txId > token.txId || (own.txId === token.txId && own.seq >= token.seq)).toBe(true);
        expect(typeof a.source!.lagMs).toBe('number');
      }
    } finally {
      await pair.setApplyDelay(0);
    }
  }, 120_000);

  it('sends queries to the primary with no error while the replica is stopped, and back once it returns', async () => {
    const { order } = await place(0);
    await caughtUp(t.pools);
    await pair.caughtUp();
    let running = true;
    const answers: { source?: string; errors?: unknown[]; seen: boolean }[] = [];
    const reader = (async () => {
      while (running) {
        const res = await request(ORDER, { id: order.id });
        answers.push({
          source: res.extensions?.readSource?.name,
          errors: res.errors,
          seen: res.data?.order?.id === order.id,
        });
      }
    })();
    try {
      await until('a read from the replica', async () => answers.some((a) => a.source === 'replica-1'));
      await pair.stopReplica();
      const stoppedAt = answers.length;
      await until('reads from the primary', async () => answers.slice(stoppedAt).some((a) => a.source === 'primary'));
      expect(t.app.reads.statuses()[0]).toMatchObject({ inRotation: false });
      // /ready stays ready and warns (the primary serves).
      const ready = await readiness(t.pools, { replicas: () => t.app.reads.statuses() });
      expect(ready.ready).toBe(true);
      expect(ready.checks.replicas).toMatchObject({
        ok: true,
        warning: true,
        code: 'READ_REPLICA_OUT_OF_ROTATION',
        detail: [{ name: 'replica-1' }],
      });
      await pair.startReplica();
      const restartedAt = answers.length;
      await until(
        'the replica back in rotation',
        async () => answers.slice(restartedAt).some((a) => a.source === 'replica-1'),
        30_000,
      );
      const back = await readiness(t.pools, { replicas: () => t.app.reads.statuses() });
      expect(back.checks.replicas).toEqual({ ok: true, detail: [] });
    } finally {
      running = false;
      await reader;
    }
    expect(answers.filter((a) => a.errors)).toEqual([]);
    expect(answers.filter((a) => !a.seen)).toEqual([]);
  }, 120_000);

  it('replays a resumed order list from the replica as far as it has replayed, then from the primary', async () => {
    const replica = new pg.Pool({ connectionString: pair.replicaUrl, max: 2 });
    let replicaQueries = 0;
    const counted = {
      query: (...args: Parameters<pg.Pool['query']>) => {
        replicaQueries += 1;
        return (replica.query as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    } as unknown as pg.Pool;
    const collect = async (pools: pg.Pool[], after: string, until: (items: OrderListChange[]) => boolean) => {
      const stream = orderListChanges(pools, t.app.bus, { customerId: null, status: null }, after);
      const items: OrderListChange[] = [];
      const deadline = Date.now() + 5_000;
      try {
        for (;;) {
          const next = await Promise.race([
            stream.next(),
            new Promise<null>((r) => setTimeout(() => r(null), Math.max(0, deadline - Date.now()))),
          ]);
          if (!next || next.done) break;
          items.push(next.value);
          if (until(items)) break;
        }
      } finally {
        await stream.return?.();
      }
      return items;
    };
    try {
      const start = await place(0);
      const early = [];
      for (let i = 0; i < 15; i++) early.push((await place(i)).order.id);
      await caughtUp(t.pools);
      await pair.caughtUp();
      // The replica replays 3 s late from here: the next orders are on the primary only.
      await pair.setApplyDelay(3_000);
      const late = [];
      for (let i = 0; i < 15; i++) late.push((await place(i)).order.id);
      await caughtUp(t.pools);
      const all = [...early, ...late];
      const seen = (items: OrderListChange[]) => all.every((id) => items.some((c) => c.order.orderId === id));

      // The replica alone stops at its own checkpoint: the late orders are missing there.
      const replicaOnly = await collect([counted], start.position, seen);
      expect(late.filter((id) => replicaOnly.some((c) => c.order.orderId === id))).toEqual([]);

      replicaQueries = 0;
      const items = await collect([counted, t.readPool], start.position, seen);
      expect(all.filter((id) => !items.some((c) => c.order.orderId === id))).toEqual([]);
      expect(replicaQueries).toBeGreaterThanOrEqual(2);
      // In position order, no order twice.
      const positions = items.map((c) => decodePosition(c.position));
      for (let i = 1; i < positions.length; i++)
        expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
      expect(new Set(items.map((c) => c.order.orderId)).size).toBe(items.length);
    } finally {
      await pair.setApplyDelay(0);
      await replica.end();
    }
  }, 120_000);

  it('takes a replica that lags past READ_REPLICA_MAX_LAG_MS out of rotation until it catches up', async () => {
    const lagging = await createTestApp({
      // The same databases as `t`, whose commands it reads.
      databaseUrl: t.databaseUrl,
      ...(t.readDatabaseUrl ? { readDatabaseUrl: t.readDatabaseUrl } : {}),
      env: { READ_REPLICA_URLS: pair.replicaUrl, READ_REPLICA_CHECK_MS: '100', READ_REPLICA_MAX_LAG_MS: '500' },
    });
    try {
      await until('the replica in rotation', async () => lagging.app.reads.statuses()[0]!.inRotation);
      await pair.setApplyDelay(2_000);
      // Writes flow, the replica replays them 2 s late: past the bound.
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) await place(i);
      })();
      try {
        await until('the replica out of rotation', async () => !lagging.app.reads.statuses()[0]!.inRotation, 30_000);
        expect(lagging.app.reads.statuses()[0]!.lagMs).toBeGreaterThan(500);
        expect(lagging.app.reads.pick().name).toBe('primary');
      } finally {
        writing = false;
        await writer;
        await pair.setApplyDelay(0);
      }
      await until('the replica back in rotation', async () => lagging.app.reads.statuses()[0]!.inRotation, 30_000);
      expect(lagging.app.reads.pick().name).toBe('replica-1');
    } finally {
      await lagging.close();
    }
  }, 120_000);
});
