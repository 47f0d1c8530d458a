// The authorization matrix, walked whole: every query, mutation and subscription field
// of the schema (the list comes from the schema, so a field added without a case here
// fails) × every role × the subject's own resource and another customer's, each
// allowed or Forbidden as auth/policy.ts says. Subscriptions that are refused deliver
// nothing even when their resource changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Grant, POLICY } from '../../src/auth/policy.ts';
import { ROLES, type UserRole } from '../../src/auth/subject.ts';
import { schema } from '../../src/graphql/schema.ts';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen, type Received, subscribeSse } from '../support/server.ts';
import { adminContext } from '../support/workload.ts';

type Side = 'own' | 'other';
type Root = 'Query' | 'Mutation' | 'Subscription';

interface World {
  productId: string;
  own: { customerId: string; orderId: string };
  other: { customerId: string; orderId: string };
}

interface Op {
  query: string;
  variables?: Record<string, unknown>;
}

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let productId: string;
let seq = 0;

async function newCustomer(): Promise<{ customerId: string; orderId: string }> {
  seq += 1;
  const ctx = adminContext(t.app);
  const c = await createCustomer(ctx, { name: `Matrix ${seq}`, email: `matrix${seq}@example.com` });
  const o = await createOrder(ctx, { customerId: c.customerId, items: [{ productId, quantity: 1 }] });
  return { customerId: c.customerId, orderId: o.orderId };
}

async function newWorld(): Promise<World> {
  return { productId, own: await newCustomer(), other: await newCustomer() };
}

const FORBIDDEN_TYPENAME = '__typename ... on Error { message }';

/** One operation per root field; `side` picks whose resource it targets. */
const CASES: Record<Root, Record<string, (w: World, side: Side) => Op>> = {
  Query: {
    order: (w, s) => ({ query: 'query($id: ID!) { order(id: $id) { id } }', variables: { id: w[s].orderId } }),
    orders: (w, s) => ({
      query: 'query($c: ID) { orders(filter: { customerId: $c }) { nodes { id } } }',
      variables: { c: w[s].customerId },
    }),
    customerOrderHistory: (w, s) => ({
      query: 'query($c: ID!) { customerOrderHistory(customerId: $c) { nodes { orderId } } }',
      variables: { c: w[s].customerId },
    }),
    searchOrders: (w, s) => ({
      query: 'query($c: ID) { searchOrders(text: "matrix", filters: { customerId: $c }) { total } }',
      variables: { c: w[s].customerId },
    }),
    // No resource argument: the own side is the subject's scope; the other side asks
    // the same, and scoping (not refusal) keeps a customer to its own.
    autocomplete: () => ({ query: '{ autocomplete(prefix: "matrix") { term } }' }),
    orderAnalytics: () => ({
      query: '{ orderAnalytics(from: "2000-01-01T00:00:00Z", to: "2002-01-01T00:00:00Z") { orderCount } }',
    }),
    customer: (w, s) => ({ query: 'query($id: ID!) { customer(id: $id) { id } }', variables: { id: w[s].customerId } }),
    products: () => ({ query: '{ products { id } }' }),
    orderHistory: (w, s) => ({
      query: 'query($id: ID!) { orderHistory(id: $id) { type } }',
      variables: { id: w[s].orderId },
    }),
    projections: () => ({ query: '{ projections { name } }' }),
    outbox: () => ({ query: '{ outbox { head } }' }),
    relays: () => ({ query: '{ relays { name lagEvents } }' }),
    verifyProjection: () => ({ query: '{ verifyProjection(name: order_analytics) { rowsChecked } }' }),
    parkedEvents: () => ({ query: '{ parkedEvents(projection: order_analytics) { position } }' }),
  },
  Mutation: {
    createCustomer: () => ({
      query: `mutation { createCustomer(input: { name: "New", email: "new${seq}@example.com" }) { ${FORBIDDEN_TYPENAME} } }`,
    }),
    renameCustomer: (w, s) => ({
      query: `mutation($c: ID!) { renameCustomer(input: { customerId: $c, name: "Renamed" }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { c: w[s].customerId },
    }),
    eraseCustomer: (w, s) => ({
      query: `mutation($c: ID!) { eraseCustomer(input: { customerId: $c }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { c: w[s].customerId },
    }),
    createProduct: () => ({
      query: `mutation { createProduct(input: { sku: "MX-${++seq}", name: "P", priceCents: 100 }) { ${FORBIDDEN_TYPENAME} } }`,
    }),
    createOrder: (w, s) => ({
      query: `mutation($c: ID!, $p: ID!) { createOrder(input: { customerId: $c, items: [{ productId: $p, quantity: 1 }] }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { c: w[s].customerId, p: w.productId },
    }),
    addOrderItem: (w, s) => ({
      query: `mutation($o: ID!, $p: ID!) { addOrderItem(input: { orderId: $o, productId: $p, quantity: 1 }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { o: w[s].orderId, p: w.productId },
    }),
    updateOrderStatus: (w, s) => ({
      query: `mutation($o: ID!) { updateOrderStatus(input: { orderId: $o, status: CONFIRMED }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { o: w[s].orderId },
    }),
    cancelOrder: (w, s) => ({
      query: `mutation($o: ID!) { cancelOrder(input: { orderId: $o }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { o: w[s].orderId },
    }),
    resumeProjection: () => ({
      query: `mutation { resumeProjection(input: { name: order_analytics }) { ${FORBIDDEN_TYPENAME} } }`,
    }),
    rebuildProjection: () => ({
      query: `mutation { rebuildProjection(input: { name: order_analytics }) { ${FORBIDDEN_TYPENAME} } }`,
    }),
    retryParked: (w, s) => ({
      query: `mutation($o: ID!) { retryParked(input: { projection: order_analytics, aggregateId: $o }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { o: w[s].orderId },
    }),
    skipParked: (w, s) => ({
      query: `mutation($o: ID!) { skipParked(input: { projection: order_analytics, aggregateId: $o, reason: "matrix" }) { ${FORBIDDEN_TYPENAME} } }`,
      variables: { o: w[s].orderId },
    }),
  },
  Subscription: {
    orderListChanged: (w, s) => ({
      query: 'subscription($c: ID) { orderListChanged(customerId: $c) { kind order { id } } }',
      variables: { c: w[s].customerId },
    }),
    orderChanged: (w, s) => ({
      query: 'subscription($id: ID!) { orderChanged(id: $id) { id status } }',
      variables: { id: w[s].orderId },
    }),
    projectionPositions: () => ({ query: 'subscription { projectionPositions { projection position } }' }),
    rebuildProgress: () => ({ query: 'subscription { rebuildProgress(name: order_list_view) { processed done } }' }),
  },
};

function rootFields(root: Root): string[] {
  const type =
    root === 'Query'
      ? schema.getQueryType()
      : root === 'Mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  return Object.keys(type?.getFields() ?? {}).sort();
}

function expected(root: Root, field: string, role: UserRole, side: Side): 'allowed' | 'forbidden' {
  const grant: Grant = (POLICY[root] as Record<string, Record<UserRole, Grant>>)[field]![role];
  if (grant === 'all') return 'allowed';
  if (grant === 'own' && side === 'own') return 'allowed';
  // Operations without a resource argument scope a customer to its own data instead
  // of refusing it (checked separately below).
  if (grant === 'own' && (field === 'autocomplete' || field === 'orderAnalytics')) return 'allowed';
  return 'forbidden';
}

async function tokenFor(role: UserRole, world: World): Promise<string> {
  if (role === 'admin') return t.adminToken;
  if (role === 'support') return t.supportToken;
  return t.customerToken(world.own.customerId);
}

beforeAll(async () => {
  t = await createTestApp({ env: { MUTATION_RATE_LIMIT: '100000' } });
  await t.startEngine();
  server = await listen(t);
  productId = (await createProduct(adminContext(t.app), { sku: 'MATRIX-1', name: 'Matrix widget', priceCents: 700 }))
    .productId;
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('the authorization matrix', () => {
  it('has a rule and a test case for every root field of the schema, and nothing else', () => {
    for (const root of ['Query', 'Mutation', 'Subscription'] as const) {
      expect(Object.keys(POLICY[root]).sort(), `${root} rules`).toEqual(rootFields(root));
      expect(Object.keys(CASES[root]).sort(), `${root} cases`).toEqual(rootFields(root));
    }
  });

  describe('queries', () => {
    let world: World;
    beforeAll(async () => {
      world = await newWorld();
      await caughtUp(t.pools);
    });
    for (const field of rootFields('Query')) {
      for (const role of ROLES) {
        for (const side of ['own', 'other'] as const) {
          it(`${field} × ${role} × ${side}: ${expected('Query', field, role, side)}`, async () => {
            const op = CASES.Query[field]!(world, side);
            const res = await t.request(
              { query: op.query, variables: op.variables ?? {} },
              { authorization: `Bearer ${await tokenFor(role, world)}` },
            );
            if (expected('Query', field, role, side) === 'allowed') {
              expect(res.json.errors).toBeUndefined();
              expect((res.json.data as Record<string, unknown>)[field]).not.toBeNull();
            } else {
              expect(res.json.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
              expect((res.json.data as Record<string, unknown> | null)?.[field] ?? null).toBeNull();
            }
          });
        }
      }
    }

    it('scopes a customer to its own data where there is no resource to refuse', async () => {
      const token = await t.customerToken(world.own.customerId);
      const all = await t.request(
        { query: '{ orders(first: 200) { nodes { customerId } } searchOrders(text: "") { hits { customerId } } }' },
        { authorization: `Bearer ${token}` },
      );
      const data = all.json.data as {
        orders: { nodes: { customerId: string }[] };
        searchOrders: { hits: { customerId: string }[] };
      };
      expect(data.orders.nodes.length).toBeGreaterThan(0);
      expect(new Set(data.orders.nodes.map((n) => n.customerId))).toEqual(new Set([world.own.customerId]));
      expect(new Set(data.searchOrders.hits.map((n) => n.customerId))).toEqual(new Set([world.own.customerId]));
      const analytics = await t.request(
        {
          query: `{ orderAnalytics(from: "${new Date(Date.now() - 86_400_000).toISOString()}", to: "${new Date(Date.now() + 86_400_000).toISOString()}") { orderCount } }`,
        },
        { authorization: `Bearer ${token}` },
      );
      const rows = (analytics.json.data as { orderAnalytics: { orderCount: number }[] }).orderAnalytics;
      expect(rows.reduce((n, r) => n + r.orderCount, 0)).toBe(1);
    });
  });

  describe('mutations (each case on fresh customers and orders)', () => {
    for (const field of rootFields('Mutation')) {
      for (const role of ROLES) {
        for (const side of ['own', 'other'] as const) {
          it(`${field} × ${role} × ${side}: ${expected('Mutation', field, role, side)}`, async () => {
            const world = await newWorld();
            const op = CASES.Mutation[field]!(world, side);
            const res = await t.request(
              { query: op.query, variables: op.variables ?? {} },
              { authorization: `Bearer ${await tokenFor(role, world)}` },
            );
            expect(res.json.errors).toBeUndefined();
            const typename = (res.json.data as Record<string, { __typename: string } | undefined>)[field]?.__typename;
            if (expected('Mutation', field, role, side) === 'allowed') expect(typename).not.toBe('Forbidden');
            else expect(typename).toBe('Forbidden');
          });
        }
      }
    }
  });

  describe('subscriptions', () => {
    it('open where allowed and deliver the change; refused ones answer FORBIDDEN and deliver nothing', async () => {
      const world = await newWorld();
      await caughtUp(t.pools);
      const cases: { name: string; want: 'allowed' | 'forbidden'; received: Received<unknown> }[] = [];
      for (const field of rootFields('Subscription')) {
        for (const role of ROLES) {
          for (const side of ['own', 'other'] as const) {
            const op = CASES.Subscription[field]!(world, side);
            cases.push({
              name: `${field} × ${role} × ${side}`,
              want: expected('Subscription', field, role, side),
              received: subscribeSse(server.url, await tokenFor(role, world), op.query, op.variables ?? {}),
            });
          }
        }
      }
      try {
        // Give every stream a moment to be listening, then change both orders and
        // rebuild a projection: each allowed stream has something to deliver.
        await new Promise((r) => setTimeout(r, 1000));
        for (const side of ['own', 'other'] as const) {
          const res = await t.request(
            {
              query: `mutation { updateOrderStatus(input: { orderId: "${world[side].orderId}", status: CONFIRMED }) { __typename } }`,
            },
            { authorization: `Bearer ${t.adminToken}` },
          );
          expect(res.json.data).toEqual({ updateOrderStatus: { __typename: 'OrderPayload' } });
        }
        const rebuild = await t.request(
          { query: 'mutation { rebuildProjection(input: { name: order_list_view }) { __typename } }' },
          { authorization: `Bearer ${t.adminToken}` },
        );
        expect(rebuild.json.data).toEqual({ rebuildProjection: { __typename: 'ProjectionStatus' } });
        await until(
          'every allowed subscription to deliver',
          async () => cases.filter((c) => c.want === 'allowed').every((c) => c.received.items.length > 0),
          30_000,
        );
        // The refused ones had the same time (and a second more) to deliver anything.
        await new Promise((r) => setTimeout(r, 1000));
        for (const c of cases) {
          if (c.want === 'allowed') {
            expect(c.received.errors, c.name).toEqual([]);
            expect(c.received.items.length, c.name).toBeGreaterThan(0);
          } else {
            expect(c.received.items, c.name).toEqual([]);
            // Over SSE a refusal is either a FORBIDDEN error in the stream or, before
            // the stream starts, the HTTP 403 that carries it.
            const refusal = c.received.errors.map((e) =>
              (e as { response?: Response }).response?.status === 403 ? 'FORBIDDEN' : JSON.stringify(e),
            );
            expect(refusal.join(), c.name).toContain('FORBIDDEN');
          }
        }
      } finally {
        for (const c of cases) c.received.stop();
      }
    });
  });
});
