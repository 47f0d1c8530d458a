// Independent API and projector processes against one PostgreSQL and one Redis:
// projections spread across projectors through leases, a SIGKILLed projector's work is
// taken over within the lease timeout, a SIGTERMed one hands over at once, and
// subscribers of a surviving API process miss nothing.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { SpawnedProcesses } from '../support/processes.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { postAsAdmin, subscribeWs } from '../support/server.ts';
import { type Catalogue, givenCatalogue } from '../support/workload.ts';

const LEASE_MS = 2000;

let t: TestApp;
let catalogue: Catalogue;
const processes = new SpawnedProcesses();

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 4, 6);
});
afterAll(async () => {
  processes.killAll();
  await t.close();
});

async function leaseOwners(): Promise<Map<string, string[]>> {
  const { rows } = await t.pool.query<{ name: string; owner: string }>(
    'SELECT name, owner FROM projection_leases WHERE owner IS NOT NULL AND expires_at > now() ORDER BY name',
  );
  const byOwner = new Map<string, string[]>();
  for (const r of rows) byOwner.set(r.owner, [...(byOwner.get(r.owner) ?? []), r.name]);
  return byOwner;
}

const ownerPid = (owner: string) => Number(owner.split(':')[1]);

async function createOrderVia(port: number, i: number): Promise<string | undefined> {
  const response = await postAsAdmin(`http://127.0.0.1:${port}/graphql`, t.adminToken, {
    query:
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { ... on OrderPayload { order { id } } } }',
    variables: {
      input: {
        customerId: catalogue.customerIds[i % catalogue.customerIds.length],
        items: [{ productId: catalogue.productIds[i % catalogue.productIds.length], quantity: 1 + (i % 3) }],
      },
    },
  });
  const body = (await response.json()) as { data?: { createOrder?: { order?: { id: string } } } };
  return body.data?.createOrder?.order?.id;
}

describe('scale-out: 2 API and 2 projector processes on one PostgreSQL and Redis', () => {
  it('spreads leases, survives a SIGKILLed and a SIGTERMed projector, and loses nothing', async () => {
    const redis = inject('redisUrl');
    const common = {
      ...t.databaseEnv,
      REDIS_URL: redis,
      LOG_LEVEL: 'info',
      PROJECTION_LEASE_MS: String(LEASE_MS),
    };
    const [{ proc: apiA, port: portA }, { port: portB }, p1, p2] = await Promise.all([
      processes.api(common),
      processes.api(common),
      processes.projector(t.databaseEnv, common),
      processes.projector(t.databaseEnv, common),
    ]);

    // With 4 projections and 2 projectors, both own leases (2 each).
    const spread = await until('both projectors to own two leases', async () => {
      const owners = await leaseOwners();
      return owners.size === 2 && [...owners.values()].every((names) => names.length === 2) ? owners : undefined;
    });
    expect([...spread.keys()].map(ownerPid).sort()).toEqual([p1.child.pid, p2.child.pid].sort());

    const subscriber = subscribeWs<{ kind: string; order: { id: string } }>(
      `http://127.0.0.1:${portA}/graphql`,
      t.adminToken,
      'subscription { orderListChanged { kind position order { id } } }',
    );
    await new Promise((r) => setTimeout(r, 300));

    const created: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const id = await createOrderVia(i % 2 ? portA : portB, i);
        if (id) created.push(id);
      }
    })();
    await until('some writes', async () => created.length >= 20);

    // SIGKILL the projector that holds order_list_view.
    const owners = await leaseOwners();
    const victimOwner = [...owners].find(([, names]) => names.includes('order_list_view'))![0];
    const victim = ownerPid(victimOwner) === p1.child.pid ? p1 : p2;
    const survivor = victim === p1 ? p2 : p1;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await until(
      'the survivor to own all four projections',
      async () => {
        const now = await leaseOwners();
        return (
          now.size === 1 && ownerPid([...now.keys()][0]!) === survivor.child.pid && [...now.values()][0]!.length === 4
        );
      },
      20_000,
    );
    const takeoverMs = Date.now() - killedAt;
    console.log(`takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
    expect(takeoverMs).toBeLessThan(LEASE_MS + 1000);

    // A third projector joins, takes its share, then is SIGTERMed: immediate handover.
    const p3 = await processes.projector(t.databaseEnv, common);
    await until('the newcomer to take two leases', async () => {
      const now = await leaseOwners();
      return [...now.entries()].some(([owner, names]) => ownerPid(owner) === p3.child.pid && names.length === 2);
    });
    let maxLag = 0;
    const sampling = setInterval(async () => {
      const checkpoints = await readCheckpoints(pgSql(t.pool)).catch(() => []);
      const { rows } = await t.pool
        .query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')
        .catch(() => ({ rows: [{ n: 0 }] }));
      for (const c of checkpoints) maxLag = Math.max(maxLag, (rows[0]?.n ?? 0) - c.eventsApplied);
    }, 50);
    const termAt = Date.now();
    p3.child.kill('SIGTERM');
    expect((await p3.exited).code).toBe(0);
    await until('the survivor to own all four again', async () => {
      const now = await leaseOwners();
      return now.size === 1 && [...now.values()][0]!.length === 4;
    });
    const handoverMs = Date.now() - termAt;
    clearInterval(sampling);
    console.log(`handover after SIGTERM: ${handoverMs} ms; largest lag seen meanwhile: ${maxLag} events`);
    expect(handoverMs).toBeLessThan(LEASE_MS);

    writing = false;
    await writer;
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
    const outbox = Number((await t.pool.query('SELECT count(*) FROM outbox')).rows[0].count);
    for (const c of await readCheckpoints(pgSql(t.pool))) expect(c.eventsApplied, c.name).toBe(outbox);

    // The subscriber on the API process that stayed up saw every order created.
    await until('the subscriber to have every order', async () => {
      const seen = new Set(subscriber.items.map((c) => c.order.id));
      return created.every((id) => seen.has(id));
    });
    expect(subscriber.errors).toEqual([]);

    // SIGTERM on an API process completes its subscriptions properly and exits 0.
    apiA.child.kill('SIGTERM');
    expect((await apiA.exited).code).toBe(0);
    await until('the subscription to complete', async () => subscriber.completed);
    subscriber.stop();
  });
});
