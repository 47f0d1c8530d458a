// One bad event parks one order, not a whole read model (projections/parking.ts).
// order_list_view fails on OrderItemAdded of the orders in `poisoned` while the fault
// is on; everything else flows past them, the read-your-writes wait on a parked event
// answers PARKED at once, and retryParked / skipParked resolve them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql, type Sql } from '../../src/db/sql.ts';
import type { OrderEvent } from '../../src/events/order.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { comparePositions, decodePosition } from '../../src/outbox/position.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { ALL_PROJECTIONS, verifyProjection } from '../../src/readModels/registry.ts';
import { readiness } from '../../src/server/http.ts';
import { createCustomer, renameCustomer } from '../../src/write/customer/handle.ts';
import { addOrderItem, cancelOrder, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { ParkedEvents, Projections, RetryParked, SkipParked, VerifyProjection } from '../support/documents.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { scrapeMetrics } from '../support/prometheus.ts';
import { adminContext, type Catalogue, givenCatalogue } from '../support/workload.ts';

const OrderAt = graphql(`
  query OrderAt($id: ID!, $consistency: ConsistencyInput) {
    order(id: $id, consistency: $consistency) { id version customerName lineCount }
  }
`);

let t: TestApp;
let catalogue: Catalogue;
const poisoned = new Set<string>();
/** Customers whose orders' creation meets a serialization failure this many more times. */
const flaky = new Map<string, number>();

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 3, 4);
  const projections = ALL_PROJECTIONS.map((p) =>
    p.name !== 'order_list_view'
      ? p
      : {
          ...p,
          apply: (sql: Sql, events: StoredEvent[]) => {
            const bad = events.find((e) => e.event.type === 'OrderItemAdded' && poisoned.has(e.aggregateId));
            if (bad) throw new Error(`cannot list the new line of order ${bad.aggregateId}`);
            const unlucky = events.find(
              (e) => e.event.type === 'OrderCreated' && (flaky.get(e.event.data.customerId) ?? 0) > 0,
            ) as StoredEvent<OrderEvent & { type: 'OrderCreated' }> | undefined;
            if (unlucky) {
              const customerId = unlucky.event.data.customerId;
              flaky.set(customerId, flaky.get(customerId)! - 1);
              throw Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' });
            }
            return p.apply(sql, events);
          },
        },
  );
  await t.startEngine({ projections, maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
});
afterAll(async () => t.close());

async function poisonedOrder(customerId: string) {
  const created = await createOrder(adminContext(t.app), {
    customerId,
    items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
  });
  poisoned.add(created.orderId);
  const added = await addOrderItem(adminContext(t.app), {
    orderId: created.orderId,
    productId: catalogue.productIds[1]!,
    quantity: 2,
  });
  const paid = await updateOrderStatus(adminContext(t.app), { orderId: created.orderId, status: 'CONFIRMED' });
  return { orderId: created.orderId, added, paid };
}

describe('a poison event under the park policy', () => {
  it('parks its order and every later event of it, in order, while 1,000 other orders flow to the head', async () => {
    const customerId = catalogue.customerIds[0]!;
    const poison = await poisonedOrder(customerId);

    // 1,000 other orders, from four writers, while the poison order is parked.
    const others: string[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 250; i++) {
          const o = await createOrder(adminContext(t.app), {
            customerId: catalogue.customerIds[(w + i) % catalogue.customerIds.length]!,
            items: [{ productId: catalogue.productIds[i % 3]!, quantity: 1 + (i % 4) }],
          });
          others.push(o.orderId);
        }
      }),
    );
    expect(others).toHaveLength(1000);
    await caughtUp(t.pools);

    const status = (await t.gql(Projections)).data!.projections;
    const list = status.find((p) => p.name === 'order_list_view')!;
    expect(list).toMatchObject({ state: 'LIVE', lagEvents: 0, parkedEvents: 2, parkedAggregates: 1, lastError: null });
    for (const p of status.filter((x) => x.name !== 'order_list_view')) {
      expect(p, p.name).toMatchObject({ state: 'LIVE', parkedEvents: 0 });
    }

    const parked = (await t.gql(ParkedEvents, { projection: 'order_list_view' })).data!.parkedEvents;
    expect(parked.map((e) => [e.aggregateId, e.aggregateVersion, e.eventType, e.reason, e.state])).toEqual([
      [poison.orderId, 2, 'OrderItemAdded', 'FAILED', 'PARKED'],
      [poison.orderId, 3, 'OrderStatusChanged', 'BEHIND', 'PARKED'],
    ]);
    expect(parked[0]!.position).toBe(poison.added.position);
    expect(parked[1]!.position).toBe(poison.paid.position);
    expect(parked[0]!.error).toContain(`cannot list the new line of order ${poison.orderId}`);
    expect(JSON.parse(parked[0]!.payload!)).toMatchObject({ orderId: poison.orderId });

    // Every other order is in the list; the poison order is at its version before the parked event.
    const rows = await t.readPool.query<{ order_id: string; version: number }>(
      'SELECT order_id::text AS order_id, version FROM order_list_view WHERE order_id = ANY($1::uuid[])',
      [[...others, poison.orderId]],
    );
    expect(rows.rows.filter((r) => r.order_id !== poison.orderId)).toHaveLength(1000);
    expect(rows.rows.find((r) => r.order_id === poison.orderId)?.version).toBe(1);
    const report = await verifyProjection(pgSql(t.readPool), 'order_list_view', undefined, pgSql(t.pool));
    expect(report.differences).toEqual([]);
    expect(report.parked).toEqual([
      { aggregateType: 'Order', aggregateId: poison.orderId, events: 2, differences: expect.any(Number) },
    ]);
    expect(report.parked[0]!.differences).toBeGreaterThan(0);
    await expectReadModelsMatchWriteTables(t.pools, ['customer_order_history', 'order_search', 'order_analytics']);

    // Visible to operators: metrics, /ready (a warning, not a failure).
    const metrics = await scrapeMetrics(t.app.metrics);
    expect(metrics.value('parallax_projection_parked_events', { projection: 'order_list_view' })).toBe(2);
    expect(metrics.value('parallax_projection_parked_aggregates', { projection: 'order_list_view' })).toBe(1);
    expect(metrics.value('parallax_projection_events_parked_total', { projection: 'order_list_view' })).toBe(1);
    const ready = await readiness(t.pools);
    expect(ready.ready).toBe(true);
    expect(ready.checks.parked).toMatchObject({
      ok: true,
      warning: true,
      code: 'PROJECTION_PARKED',
      detail: [{ name: 'order_list_view', events: 2, aggregates: 1 }],
    });
    expect(JSON.stringify(ready)).not.toContain('cannot list');

    // Read-your-writes: a token whose event is parked answers PARKED at once; others are served.
    const waiting = await t.gql(OrderAt, {
      id: poison.orderId,
      consistency: { atLeast: poison.paid.position, timeoutMs: 20_000 },
    });
    expect(waiting.errors?.[0]?.extensions).toMatchObject({
      code: 'PARKED',
      projection: 'order_list_view',
      aggregateType: 'Order',
      aggregateId: poison.orderId,
      parkedPosition: poison.paid.position,
    });
    const fresh = await createOrder(adminContext(t.app), {
      customerId,
      items: [{ productId: catalogue.productIds[2]!, quantity: 1 }],
    });
    const served = await t.gql(OrderAt, { id: fresh.orderId, consistency: { atLeast: fresh.position } });
    expect(served.errors).toBeUndefined();
    expect(served.data?.order?.id).toBe(fresh.orderId);
    const waitingForParked = t.gql(OrderAt, {
      id: poison.orderId,
      consistency: { atLeast: poison.paid.position, timeoutMs: 20_000 },
    });

    // Another aggregate's event touching the parked order's row: a rename of its customer
    // rewrites the name on every row of the customer, the parked order's too.
    await renameCustomer(adminContext(t.app), { customerId, name: 'Renamed While Parked' });
    await caughtUp(t.pools);
    const held = await t.readPool.query<{ customer_name: string; version: number }>(
      'SELECT customer_name, version FROM order_list_view WHERE order_id = $1',
      [poison.orderId],
    );
    expect(held.rows[0]).toEqual({ customer_name: 'Renamed While Parked', version: 1 });
    expect((await waitingForParked).errors?.[0]?.extensions?.code).toBe('PARKED');

    // Only admins resolve; support reads with masked payloads and errors.
    const bySupport = await t.gql(
      RetryParked,
      { input: { projection: 'order_list_view', aggregateId: poison.orderId } },
      t.supportToken,
    );
    expect(bySupport.data?.retryParked.__typename).toBe('Forbidden');
    const seenBySupport = await t.gql(ParkedEvents, { projection: 'order_list_view' }, t.supportToken);
    expect(seenBySupport.data?.parkedEvents).toHaveLength(2);

    // Retried while the fault is still on: nothing changes, it stays parked.
    const stillFailing = await t.gql(RetryParked, {
      input: { projection: 'order_list_view', aggregateId: poison.orderId },
    });
    expect(stillFailing.data?.retryParked).toMatchObject({ __typename: 'ParkedRetryFailed' });
    expect((await t.gql(ParkedEvents, { projection: 'order_list_view' })).data!.parkedEvents).toHaveLength(2);

    // Fixed, then retried: both events applied in order, and the read model equals the recomputation.
    poisoned.delete(poison.orderId);
    const retried = await t.gql(RetryParked, { input: { projection: 'order_list_view', aggregateId: poison.orderId } });
    expect(retried.data?.retryParked).toMatchObject({
      __typename: 'ParkedResolution',
      aggregateId: poison.orderId,
      events: [
        { position: poison.added.position, state: 'RETRIED' },
        { position: poison.paid.position, state: 'RETRIED' },
      ],
    });
    await expectReadModelsMatchWriteTables(t.pools);
    const after = await t.gql(OrderAt, { id: poison.orderId, consistency: { atLeast: poison.paid.position } });
    expect(after.errors).toBeUndefined();
    expect(after.data?.order).toMatchObject({ version: 3, customerName: 'Renamed While Parked', lineCount: 2 });
    const resolved = (await t.gql(ParkedEvents, { projection: 'order_list_view', state: 'RETRIED' })).data!
      .parkedEvents;
    expect(resolved.map((e) => [e.resolvedBy, e.resolvedRole])).toEqual([
      ['test-admin', 'admin'],
      ['test-admin', 'admin'],
    ]);
    expect((await readiness(t.pools)).checks.parked).toEqual({ ok: true, detail: [] });
    // A retried aggregate flows again: its next event is applied, not parked.
    const cancelled = await cancelOrder(adminContext(t.app), { orderId: poison.orderId });
    const next = await t.gql(OrderAt, { id: poison.orderId, consistency: { atLeast: cancelled.position } });
    expect(next.data?.order?.version).toBe(4);
  });

  it('skipParked requires a reason, keeps who skipped what and why, and the order goes on on top', async () => {
    const poison = await poisonedOrder(catalogue.customerIds[1]!);
    await until('the poison order to be parked', async () => {
      const parked = (await t.gql(ParkedEvents, { projection: 'order_list_view' })).data!.parkedEvents;
      return parked.length === 2 ? parked : undefined;
    });
    const input = { projection: 'order_list_view' as const, aggregateId: poison.orderId };

    const noReason = await t.gql(SkipParked, { input: { ...input, reason: '   ' } });
    expect(noReason.data?.skipParked).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['input', 'reason'] }],
    });
    const badId = await t.gql(SkipParked, { input: { ...input, aggregateId: 'nope', reason: 'r' } });
    expect(badId.data?.skipParked).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['input', 'aggregateId'] }],
    });
    const nothingParked = await t.gql(SkipParked, {
      input: { ...input, aggregateId: catalogue.customerIds[2]!, reason: 'r' },
    });
    expect(nothingParked.data?.skipParked.__typename).toBe('NotFoundError');
    expect((await t.gql(ParkedEvents, { projection: 'order_list_view' })).data!.parkedEvents).toHaveLength(2);

    const skipped = await t.gql(SkipParked, {
      input: { ...input, reason: 'line of a withdrawn product, ticket 4711' },
    });
    expect(skipped.data?.skipParked).toMatchObject({
      __typename: 'ParkedResolution',
      events: [{ state: 'SKIPPED' }, { state: 'SKIPPED' }],
    });
    const audit = (await t.gql(ParkedEvents, { projection: 'order_list_view', state: 'SKIPPED' })).data!.parkedEvents;
    expect(audit.map((e) => [e.aggregateId, e.resolvedBy, e.resolvedRole, e.resolutionReason])).toEqual([
      [poison.orderId, 'test-admin', 'admin', 'line of a withdrawn product, ticket 4711'],
      [poison.orderId, 'test-admin', 'admin', 'line of a withdrawn product, ticket 4711'],
    ]);
    expect(t.logs.some((l) => l.msg === 'parked events skipped' && l.aggregateId === poison.orderId)).toBe(true);

    // The order's row moved to the skipped version: its next event applies on top.
    const cancelled = await cancelOrder(adminContext(t.app), { orderId: poison.orderId });
    const next = await t.gql(OrderAt, { id: poison.orderId, consistency: { atLeast: cancelled.position } });
    expect(next.errors).toBeUndefined();
    expect(next.data?.order).toMatchObject({ version: 4, lineCount: 1 });
    const list = (await readCheckpoints(pgSql(t.readPool))).find((c) => c.name === 'order_list_view')!;
    expect(comparePositions(list.position, decodePosition(cancelled.position))).toBeGreaterThanOrEqual(0);
    // What was skipped is missing from the read model, and verify says so.
    const report = await verifyProjection(pgSql(t.readPool), 'order_list_view', undefined, pgSql(t.pool));
    expect(report.parked).toEqual([]);
    expect(report.differences.map((d) => d.key)).toContainEqual({ order_id: poison.orderId });
    const viaApi = await t.gql(VerifyProjection, { name: 'order_list_view' });
    expect(viaApi.data?.verifyProjection.parked).toEqual([]);
  });

  it('never parks an event for a passing database condition (serialization failures are retried, not counted)', async () => {
    const customerId = catalogue.customerIds[3]!;
    flaky.set(customerId, 8); // more failures in a row than maxAttempts (3)
    const created = await createOrder(adminContext(t.app), {
      customerId,
      items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
    });
    const res = await t.gql(OrderAt, {
      id: created.orderId,
      consistency: { atLeast: created.position, timeoutMs: 20_000 },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.order?.id).toBe(created.orderId);
    expect(flaky.get(customerId)).toBe(0);
    expect((await t.gql(ParkedEvents, { projection: 'order_list_view' })).data!.parkedEvents).toEqual([]);
    expect((await t.gql(Projections)).data!.projections.every((p) => p.state === 'LIVE')).toBe(true);
  });
});
