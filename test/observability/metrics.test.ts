// /metrics through a real HTTP server, parsed as Prometheus text: projection lag while
// a projection is STALLED and after resume, /ready meanwhile, and the recorded series
// (commands by outcome, GraphQL operations, subscriptions by transport, batches, pool).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/bus.ts';
import { instrumentBus } from '../../src/observability/bus.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { readiness } from '../../src/server/http.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { CreateCustomer } from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { caughtUp, until, withPoisonedSearch } from '../support/projections.ts';
import { scrape } from '../support/prometheus.ts';
import { listen, subscribeSse, subscribeWs } from '../support/server.ts';

const ResumeSearch = graphql(`
  mutation ResumeSearch {
    resumeProjection(input: { name: order_search }) {
      __typename
      ... on ProjectionStatus { name state }
    }
  }
`);

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let poisonCustomerId: string | undefined;
let productId: string;

beforeAll(async () => {
  t = await createTestApp();
  // order_search fails on any order of the poison customer while the fault is on.
  const faulty = withPoisonedSearch(() => poisonCustomerId);
  await t.startEngine({ projections: faulty, onFailure: 'stall', maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
  server = await listen(t, t.yoga, { ready: () => readiness(t.pools, { maxLagMs: 600_000 }) });
  productId = (await givenProduct(t)).id;
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('/metrics', () => {
  it('shows lag rising while a projection is STALLED and falling to zero after resumeProjection; /ready follows', async () => {
    const regular = await givenCustomer(t);
    await givenOrder(t, regular.id, [{ productId, quantity: 1 }]);
    await caughtUp(t.pools);
    const before = await scrape(server.base);
    expect(before.value('parallax_projection_lag_events', { projection: 'order_search' })).toBe(0);
    expect(before.value('parallax_projection_lag_seconds', { projection: 'order_search' })).toBe(0);
    expect(before.value('parallax_projection_state', { projection: 'order_search', state: 'LIVE' })).toBe(1);
    expect(before.value('parallax_outbox_head_position')).toBeGreaterThan(0);
    expect(before.value('parallax_projection_position', { projection: 'order_search' })).toBe(
      before.value('parallax_outbox_head_position'),
    );
    expect((await fetch(`${server.base}/ready`)).status).toBe(200);

    poisonCustomerId = (await givenCustomer(t)).id;
    await givenOrder(t, poisonCustomerId, [{ productId, quantity: 1 }]);
    const stalled = await until('order_search to show STALLED in /metrics', async () => {
      const s = await scrape(server.base);
      return s.value('parallax_projection_state', { projection: 'order_search', state: 'STALLED' }) === 1 && s;
    });
    expect(stalled.value('parallax_projection_state', { projection: 'order_search', state: 'LIVE' })).toBe(0);
    const stalledLag = stalled.value('parallax_projection_lag_events', { projection: 'order_search' })!;
    expect(stalledLag).toBeGreaterThan(0);
    expect(stalled.value('parallax_projection_lag_seconds', { projection: 'order_search' })).toBeGreaterThan(0);
    expect(stalled.value('parallax_projection_retries', { projection: 'order_search' })).toBeGreaterThan(0);
    expect(stalled.value('parallax_projection_apply_failures_total', { projection: 'order_search' })).toBeGreaterThan(
      0,
    );

    const notReady = await fetch(`${server.base}/ready`);
    expect(notReady.status).toBe(503);
    const notReadyBody = (await notReady.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(notReadyBody.ready).toBe(false);
    expect(notReadyBody.checks.projections?.ok).toBe(false);
    expect(JSON.stringify(notReadyBody.checks.projections)).toContain('order_search');

    // More writes: the stalled projection's lag keeps rising; the others stay at zero.
    await givenCustomer(t);
    await givenOrder(t, regular.id, [{ productId, quantity: 2 }]);
    await caughtUp(t.pools, ['order_list_view', 'customer_order_history', 'order_analytics']);
    const rising = await scrape(server.base);
    expect(rising.value('parallax_projection_lag_events', { projection: 'order_search' })).toBeGreaterThan(stalledLag);
    expect(rising.value('parallax_projection_lag_events', { projection: 'order_list_view' })).toBe(0);
    expect(rising.value('parallax_projection_state', { projection: 'order_search', state: 'STALLED' })).toBe(1);

    poisonCustomerId = undefined; // the fault is fixed
    const resumed = await t.gql(ResumeSearch);
    expect(resumed.data?.resumeProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'LIVE' });
    await caughtUp(t.pools);
    const after = await scrape(server.base);
    expect(after.value('parallax_projection_lag_events', { projection: 'order_search' })).toBe(0);
    expect(after.value('parallax_projection_lag_seconds', { projection: 'order_search' })).toBe(0);
    expect(after.value('parallax_projection_state', { projection: 'order_search', state: 'LIVE' })).toBe(1);
    expect(after.value('parallax_projection_state', { projection: 'order_search', state: 'STALLED' })).toBe(0);
    expect(after.value('parallax_projection_position', { projection: 'order_search' })).toBe(
      after.value('parallax_outbox_head_position'),
    );
    const ready = await fetch(`${server.base}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
  });

  it('records command latency by mutation and outcome, GraphQL operations by name, batches and the pool', async () => {
    const ok = await t.gql(CreateCustomer, { input: { name: 'Metrics Person', email: 'metrics@example.com' } });
    expect(ok.data?.createCustomer.__typename).toBe('CustomerPayload');
    const invalid = await t.gql(CreateCustomer, { input: { name: 'Metrics Person', email: 'not an email' } });
    expect(invalid.data?.createCustomer.__typename).toBe('ValidationError');
    const forbidden = await t.gql(
      CreateCustomer,
      { input: { name: 'Metrics Person', email: 'metrics2@example.com' } },
      await t.customerToken(
        ok.data?.createCustomer.__typename === 'CustomerPayload' ? ok.data.createCustomer.customer.id : '',
      ),
    );
    expect(forbidden.data?.createCustomer.__typename).toBe('Forbidden');
    await caughtUp(t.pools);

    const s = await scrape(server.base);
    const mutation = { mutation: 'createCustomer' };
    expect(s.count('parallax_command_duration_seconds', { ...mutation, outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(s.count('parallax_command_duration_seconds', { ...mutation, outcome: 'ValidationError' })).toBe(1);
    expect(s.count('parallax_command_duration_seconds', { ...mutation, outcome: 'Forbidden' })).toBe(1);
    expect(
      s.count('parallax_graphql_operation_duration_seconds', {
        operation_name: 'CreateCustomer',
        operation_type: 'mutation',
      }),
    ).toBeGreaterThanOrEqual(3);
    expect(s.count('parallax_projection_batch_size', { projection: 'order_list_view' })).toBeGreaterThan(0);
    expect(s.count('parallax_projection_batch_duration_seconds', { projection: 'order_search' })).toBeGreaterThan(0);
    expect(s.value('parallax_db_pool_in_use')).toBeGreaterThanOrEqual(0);
    expect(s.value('parallax_db_pool_idle')).toBeGreaterThanOrEqual(0);
    expect(s.value('parallax_db_pool_waiting')).toBeGreaterThanOrEqual(0);
    expect(s.value('parallax_outbox_horizon_holder_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(s.value('parallax_metrics_database_up')).toBe(1);
  });

  it('counts active subscriptions by field and transport, down again when they end', async () => {
    const query = 'subscription { projectionPositions { projection position } }';
    const sse = subscribeSse(server.url, t.adminToken, query);
    const ws = subscribeWs(server.url, t.adminToken, query);
    const labels = (transport: string) => ({ field: 'projectionPositions', transport });
    await until('both subscriptions to count', async () => {
      const s = await scrape(server.base);
      return s.value('parallax_subscriptions_active', labels('sse')) === 1 &&
        s.value('parallax_subscriptions_active', labels('ws')) === 1
        ? s
        : undefined;
    });
    sse.stop();
    ws.stop();
    await until('both subscriptions to end', async () => {
      const s = await scrape(server.base);
      return s.value('parallax_subscriptions_active', labels('sse')) === 0 &&
        s.value('parallax_subscriptions_active', labels('ws')) === 0
        ? s
        : undefined;
    });
  });

  it('counts failed bus publishes by channel', async () => {
    const failing: Bus = {
      publish: async () => {
        throw new Error('redis is away');
      },
      subscribe: async () => () => {},
      close: async () => {},
    };
    const metrics = new Metrics(t.pool, t.app.config);
    const bus = instrumentBus(failing, metrics);
    await expect(bus.publish('parallax.projection.positions', {})).rejects.toThrow('redis is away');
    const text = await metrics.registry.getSingleMetricAsString('parallax_bus_publish_failures_total');
    expect(text).toContain('parallax_bus_publish_failures_total{channel="parallax.projection.positions"} 1');
  });
});
