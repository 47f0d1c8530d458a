import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readiness } from '../../src/server/http.ts';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { Projections, ResumeProjection } from '../support/documents.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until, withPoisonedSearch } from '../support/projections.ts';
import { adminContext, type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;
let poisonCustomerId: string | undefined;

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 4, 4);
  // order_search fails on any order of the poison customer while the fault is on.
  const faulty = withPoisonedSearch(() => poisonCustomerId);
  await t.startEngine({ projections: faulty, onFailure: 'stall', maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
});
afterAll(async () => t.close());

describe('a projection that fails on an event', () => {
  it('goes STALLED on that event while the others stay LIVE, and catches up after resumeProjection', async () => {
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 20 });
    poisonCustomerId = (await createCustomer(adminContext(t.app), { name: 'Poison Pill', email: 'pill@example.com' }))
      .customerId;
    const poison = await createOrder(adminContext(t.app), {
      customerId: poisonCustomerId!,
      items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
    });
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 20 });

    const stalled = await until('order_search to stall', async () => {
      const res = await t.gql(Projections);
      const search = res.data?.projections.find((p) => p.name === 'order_search');
      return search?.state === 'STALLED' ? res.data!.projections : undefined;
    });
    const search = stalled.find((p) => p.name === 'order_search')!;
    expect(search.lastError).toContain(`cannot index order ${poison.orderId}`);
    expect(search.errorPosition).toBe(poison.position);
    expect(search.lagEvents).toBeGreaterThan(0);

    // The others carry on past the poison event, to the head.
    const others = ['order_list_view', 'customer_order_history', 'order_analytics'];
    await caughtUp(t.pools, others);
    const res = await t.gql(Projections);
    for (const p of res.data!.projections.filter((x) => others.includes(x.name))) {
      expect(p.state, p.name).toBe('LIVE');
      expect(p.lagEvents, p.name).toBe(0);
    }
    await expectReadModelsMatchWriteTables(t.pools, ['order_list_view', 'customer_order_history', 'order_analytics']);

    // Still stalled: it never skips the event on its own, and /ready says so.
    const still = (await t.gql(Projections)).data!.projections.find((p) => p.name === 'order_search')!;
    expect(still.state).toBe('STALLED');
    const notReady = await readiness(t.pools);
    expect(notReady.ready).toBe(false);
    expect(JSON.stringify(notReady.checks.projections)).toContain('order_search');

    poisonCustomerId = undefined; // the fault is fixed
    const resumed = await t.gql(ResumeProjection, { input: { name: 'order_search' } });
    expect(resumed.data?.resumeProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'LIVE' });
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
    const after = (await t.gql(Projections)).data!.projections.find((p) => p.name === 'order_search')!;
    expect(after).toMatchObject({ state: 'LIVE', lagEvents: 0, lastError: null });
    expect((await readiness(t.pools)).ready).toBe(true);
  });

  it('answers resumeProjection for a projection that is not stalled with NotFoundError, and for support with Forbidden', async () => {
    const live = await t.gql(ResumeProjection, { input: { name: 'order_list_view' } });
    expect(live.data?.resumeProjection.__typename).toBe('NotFoundError');
    const support = await t.gql(ResumeProjection, { input: { name: 'order_search' } }, t.supportToken);
    expect(support.data?.resumeProjection.__typename).toBe('Forbidden');
    const query = await t.gql(Projections, {}, t.supportToken);
    expect(query.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
