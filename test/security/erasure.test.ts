// GDPR erasure: after eraseCustomer no table of the database holds the customer's names
// (current and past) or email, not even as tsvector lexemes, and rebuilding every read
// model from the outbox does not bring them back. Orders stay, anonymized.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actorId } from '../../src/auth/subject.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import {
  AddOrderItem,
  CancelOrder,
  CreateCustomer,
  CreateOrder,
  EraseCustomer,
  RenameCustomer,
  UpdateOrderStatus,
} from '../support/documents.ts';
import { expectMaskedInternalError, failingAfterAppend } from '../support/failure.ts';
import { givenProduct } from '../support/fixtures.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Hit, listTables, scanDatabase, tablesOf } from '../support/scan.ts';

const ErasureOrders = graphql(`
  query ErasureOrders($filter: OrderFilter) {
    orders(first: 200, filter: $filter) {
      nodes { id customerId customerName customerEmail status totalCents itemCount }
    }
  }
`);

const ErasureSearch = graphql(`
  query ErasureSearch($text: String!) {
    searchOrders(text: $text, first: 50) { total hits { orderId customerId customerName } }
  }
`);

const ErasureSuggest = graphql(`
  query ErasureSuggest($prefix: String!) { autocomplete(prefix: $prefix, limit: 20) { term kind orders } }
`);

const ErasureHistory = graphql(`
  query ErasureHistory($customerId: ID!) {
    customerOrderHistory(customerId: $customerId, first: 50) {
      nodes { orderId summary { status totalCents customerName } }
    }
  }
`);

const ErasureAnalytics = graphql(`
  query ErasureAnalytics($from: DateTime!, $to: DateTime!) {
    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }
  }
`);

const ErasureCustomerView = graphql(`
  query ErasureCustomerView($id: ID!) { customer(id: $id) { id name email erased } }
`);

const ErasureRebuild = graphql(`
  mutation ErasureRebuild($name: ProjectionName!) {
    rebuildProjection(input: { name: $name }) {
      __typename
      ... on ProjectionStatus { name state }
      ... on Error { message }
    }
  }
`);

const ErasureProjections = graphql(`
  query ErasureProjections { projections { name state lastError } }
`);

const ErasureResume = graphql(`
  mutation ErasureResume($name: ProjectionName!) {
    resumeProjection(input: { name: $name }) {
      __typename
      ... on ProjectionStatus { name state }
      ... on Error { message }
    }
  }
`);

// The customer to erase: created under one name, renamed twice. Distinctive words, so
// a hit can only be this customer; prefixes catch stemmed or truncated copies.
const NAMES = ['Ysolde Brackenridge', 'Ysolde Quixoteworth', 'Zebulon Quixoteworth'];
const EMAIL = 'zebulon.q@quixoteworth-mail.example';
const NEEDLES = [
  ...NAMES,
  'ysolde',
  'brackenridge',
  'quixoteworth',
  'zebulon',
  'ysold',
  'bracken',
  'quixot',
  'zebul',
  EMAIL,
  'zebulon.q@',
  'quixoteworth-mail',
];
const LEXEME_PREFIXES = ['ysold', 'bracken', 'quixot', 'zebul'];
// Other customers, whose data must stay: it proves the scan sees what it looks for.
const OTHERS = [
  { name: 'Ottoline Fairweather', email: 'ottoline@fairweather.example' },
  { name: 'Barnaby Thistlewood', email: 'barnaby@thistlewood.example' },
];
const OTHER_NEEDLES = ['ottoline', 'fairweather', 'barnaby', 'thistlewood'];

interface History {
  customerId: string;
  orderIds: string[];
  otherIds: string[];
}

function payloadOf<T extends { __typename: string }>(result: T | undefined | null, typename: string) {
  if (result?.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(result)}`);
  return result;
}

async function createCustomer(t: TestApp, name: string, email: string): Promise<string> {
  const res = await t.gql(CreateCustomer, { input: { name, email } });
  const r = payloadOf(res.data?.createCustomer, 'CustomerPayload');
  if (r.__typename !== 'CustomerPayload') throw new Error('unreachable');
  return r.customer.id;
}

async function createOrder(
  t: TestApp,
  customerId: string,
  items: { productId: string; quantity: number }[],
  token?: string,
  idempotencyKey?: string,
) {
  const res = await t.gql(CreateOrder, { input: { customerId, items, idempotencyKey } }, token);
  const r = res.data?.createOrder;
  if (r?.__typename !== 'OrderPayload') throw new Error(`createOrder failed: ${JSON.stringify(res)}`);
  return r.order.id;
}

/** A realistic history: renames, orders by the customer itself and by staff, items, status changes. */
async function givenHistory(t: TestApp): Promise<History> {
  const products = [await givenProduct(t), await givenProduct(t), await givenProduct(t)];
  const customerId = await createCustomer(t, NAMES[0]!, EMAIL);
  // The customer's own token names it by its email, as some identity providers do:
  // the outbox records that subject, hashed, as the actor of its commands.
  const own = await t.app.tokens.sign({ sub: EMAIL, role: 'customer', customerId });
  const otherIds: string[] = [];
  for (const o of OTHERS) otherIds.push(await createCustomer(t, o.name, o.email));

  const first = await createOrder(
    t,
    customerId,
    [
      { productId: products[0]!.id, quantity: 2 },
      { productId: products[1]!.id, quantity: 1 },
    ],
    own,
    'zebulon-basket-1', // a client key that happens to carry the name
  );
  payloadOf(
    (await t.gql(RenameCustomer, { input: { customerId, name: NAMES[1]! } }, own)).data?.renameCustomer,
    'CustomerPayload',
  );
  const second = await createOrder(t, customerId, [{ productId: products[2]!.id, quantity: 3 }]);
  payloadOf(
    (await t.gql(AddOrderItem, { input: { orderId: second, productId: products[0]!.id, quantity: 1 } }, own)).data
      ?.addOrderItem,
    'OrderPayload',
  );
  for (const status of ['CONFIRMED', 'SHIPPED'] as const) {
    payloadOf(
      (await t.gql(UpdateOrderStatus, { input: { orderId: second, status } })).data?.updateOrderStatus,
      'OrderPayload',
    );
  }
  payloadOf(
    (await t.gql(RenameCustomer, { input: { customerId, name: NAMES[2]! } })).data?.renameCustomer,
    'CustomerPayload',
  );
  const third = await createOrder(t, customerId, [{ productId: products[1]!.id, quantity: 4 }], own);
  payloadOf((await t.gql(CancelOrder, { input: { orderId: third } }, own)).data?.cancelOrder, 'OrderPayload');
  payloadOf(
    (await t.gql(UpdateOrderStatus, { input: { orderId: first, status: 'CONFIRMED' } })).data?.updateOrderStatus,
    'OrderPayload',
  );

  for (const otherId of otherIds) {
    const orderId = await createOrder(t, otherId, [{ productId: products[0]!.id, quantity: 1 }]);
    payloadOf(
      (await t.gql(UpdateOrderStatus, { input: { orderId, status: 'CONFIRMED' } })).data?.updateOrderStatus,
      'OrderPayload',
    );
  }
  return { customerId, orderIds: [first, second, third], otherIds };
}

/** What must not change: every outbox row's place, type, aggregate and version. */
async function outboxShape(t: TestApp) {
  const { rows } = await t.pool.query(
    `SELECT tx_id::text, seq::text, event_id::text, event_type, aggregate_type, aggregate_id::text, aggregate_version
       FROM outbox ORDER BY outbox.tx_id, outbox.seq`,
  );
  return rows;
}

async function analytics(t: TestApp) {
  const day = 86_400_000;
  const from = new Date(Date.now() - 30 * day).toISOString();
  const res = await t.gql(ErasureAnalytics, { from, to: new Date(Date.now() + 30 * day).toISOString() });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  expect(res.data.orderAnalytics.length).toBeGreaterThan(0);
  return res.data.orderAnalytics;
}

async function rebuildEverything(t: TestApp) {
  for (const p of ALL_PROJECTIONS) {
    const res = await t.gql(ErasureRebuild, { name: p.name as 'order_list_view' });
    expect(res.data?.rebuildProjection, JSON.stringify(res)).toMatchObject({ __typename: 'ProjectionStatus' });
  }
  await until(
    'every rebuild to be swapped in and its schemas dropped',
    async () => {
      const { rowCount } = await t.readPool.query('SELECT 1 FROM projection_rebuilds');
      const { rows } = await t.readPool.query(
        "SELECT 1 FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%' OR nspname LIKE 'retired\\_%'",
      );
      return rowCount === 0 && rows.length === 0;
    },
    120_000,
  );
  await caughtUp(t.pools);
}

/** The read side no longer finds the customer by any of its names or its email; its orders are all there. */
async function expectAnonymizedOnTheReadSide(t: TestApp, h: History) {
  for (const text of [...NAMES, 'zebulon', 'quixoteworth', 'ysolde', 'brackenridge', 'zeb', 'quix', EMAIL]) {
    const res = await t.gql(ErasureSearch, { text });
    expect(res.errors, text).toBeUndefined();
    expect(res.data?.searchOrders.total, text).toBe(0);
    expect(res.data?.searchOrders.hits, text).toEqual([]);
  }
  for (const prefix of ['zeb', 'zebulon', 'quix', 'ysol', 'brack']) {
    const res = await t.gql(ErasureSuggest, { prefix });
    expect(res.errors, prefix).toBeUndefined();
    const terms = res.data!.autocomplete.map((s) => s.term.toLowerCase());
    for (const needle of NEEDLES) {
      expect(
        terms.filter((term) => term.includes(needle.toLowerCase())),
        prefix,
      ).toEqual([]);
    }
  }
  const orders = (await t.gql(ErasureOrders, { filter: { customerId: h.customerId } })).data!.orders.nodes;
  expect(orders.map((o) => o.id).sort()).toEqual([...h.orderIds].sort());
  for (const o of orders)
    expect(o).toMatchObject({ customerId: h.customerId, customerName: null, customerEmail: null });
  expect(Object.fromEntries(orders.map((o) => [o.id, o.status]))).toEqual({
    [h.orderIds[0]!]: 'CONFIRMED',
    [h.orderIds[1]!]: 'SHIPPED',
    [h.orderIds[2]!]: 'CANCELLED',
  });
  const history = (await t.gql(ErasureHistory, { customerId: h.customerId })).data!.customerOrderHistory.nodes;
  expect(history.map((e) => e.orderId).sort()).toEqual([...h.orderIds].sort());
  for (const e of history) expect(e.summary.customerName).toBeNull();
  const view = (await t.gql(ErasureCustomerView, { id: h.customerId })).data?.customer;
  expect(view).toMatchObject({ id: h.customerId, name: null, email: null, erased: true });
  // Other customers keep their names on the read side.
  const found = await t.gql(ErasureSearch, { text: 'Fairweather' });
  expect(found.data?.searchOrders.hits.map((hit) => hit.customerName)).toEqual(['Ottoline Fairweather']);
}

function expectOthersStillThere(hits: Hit[]) {
  const tables = tablesOf(hits);
  for (const table of [
    'public.customers',
    'public.outbox',
    'public.order_list_view',
    'public.order_search',
    'public.order_search_terms',
    'public.customer_order_history',
    'public.projection_customers',
    'public.order_search.document (lexemes)',
  ]) {
    expect(tables, table).toContain(table);
  }
  expect(new Set(hits.map((h) => h.needle))).toEqual(new Set(OTHER_NEEDLES));
}

describe.each([
  { label: 'every projection ASYNC', env: {} as Record<string, string> },
  {
    label: 'order_list_view and order_search INLINE',
    env: { PROJECTION_MODES: 'order_list_view=INLINE,order_search=INLINE' },
  },
])('eraseCustomer with $label', ({ env }) => {
  let t: TestApp;
  let h: History;
  let shapeBefore: unknown[];
  let analyticsBefore: unknown;

  beforeAll(async () => {
    // INLINE writes the read models in the command's transaction: one database, whatever the run's layout.
    t = await createTestApp({ env, ...(env.PROJECTION_MODES ? { readDatabaseUrl: null } : {}) });
    await t.startEngine({ batchSize: 7 });
    h = await givenHistory(t);
    await caughtUp(t.pools);
    shapeBefore = await outboxShape(t);
    analyticsBefore = await analytics(t);
  });
  afterAll(async () => t.close());

  it('finds the names and email all over the database before the erasure (the scan is not vacuous)', async () => {
    const tables = await listTables(t.pools);
    expect(tables).toEqual(expect.arrayContaining(['public.outbox', 'public.customers', 'public.idempotency_records']));
    const hits = await scanDatabase(t.pools, NEEDLES, LEXEME_PREFIXES);
    const found = tablesOf(hits);
    for (const table of [
      'public.customers',
      'public.outbox',
      'public.idempotency_records',
      'public.order_list_view',
      'public.order_search',
      'public.order_search_terms',
      'public.customer_order_history',
      'public.projection_customers',
      'public.order_search.document (lexemes)',
    ]) {
      expect(found, table).toContain(table);
    }
    // Every past name is in the outbox (the customers row holds only the latest), and so
    // is the email; the customer's own commands carry its email subject hashed, never the email.
    const inOutbox = hits.filter((hit) => hit.table === 'public.outbox').map((hit) => hit.needle);
    for (const needle of [...NAMES.map((n) => n.toLowerCase()), EMAIL]) expect(inOutbox).toContain(needle);
    const actors = async (actor: string) =>
      (await t.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE actor = $1', [actor])).rows[0]!.n;
    expect(await actors(EMAIL)).toBe(0);
    expect(await actors(actorId({ sub: EMAIL, role: 'customer' }))).toBeGreaterThan(0);
  });

  it('leaves no trace of the customer in any table once the projections passed the erasure', async () => {
    const res = await t.gql(EraseCustomer, { input: { customerId: h.customerId } });
    const erased = payloadOf(res.data?.eraseCustomer, 'CustomerPayload');
    if (erased.__typename !== 'CustomerPayload') throw new Error('unreachable');
    expect(erased.customer).toMatchObject({ name: null, email: null, erased: true });
    await caughtUp(t.pools);

    expect(await scanDatabase(t.pools, NEEDLES, LEXEME_PREFIXES)).toEqual([]);
    expectOthersStillThere(await scanDatabase(t.pools, OTHER_NEEDLES, OTHER_NEEDLES));
    await expectAnonymizedOnTheReadSide(t, h);
    await expectReadModelsMatchWriteTables(t.pools);
  });

  it('keeps every outbox row in place: same positions, types, aggregates and versions, plus the erasure', async () => {
    const after = await outboxShape(t);
    expect(after.slice(0, shapeBefore.length)).toEqual(shapeBefore);
    expect(after.slice(shapeBefore.length)).toEqual([
      expect.objectContaining({ event_type: 'CustomerErased', aggregate_id: h.customerId }),
    ]);
    const { rows } = await t.pool.query(
      `SELECT event_type, payload FROM outbox WHERE aggregate_type = 'Customer' AND aggregate_id = $1 ORDER BY tx_id, seq`,
      [h.customerId],
    );
    expect(rows).toEqual([
      { event_type: 'CustomerCreated', payload: { customerId: h.customerId, name: null, email: null } },
      { event_type: 'CustomerRenamed', payload: { customerId: h.customerId, name: null } },
      { event_type: 'CustomerRenamed', payload: { customerId: h.customerId, name: null } },
      { event_type: 'CustomerErased', payload: { customerId: h.customerId } },
    ]);
    // Other customers' events are untouched.
    const others = await t.pool.query<{ name: string }>(
      `SELECT payload->>'name' AS name FROM outbox WHERE event_type = 'CustomerCreated' AND aggregate_id = ANY($1::uuid[])`,
      [h.otherIds],
    );
    expect(others.rows.map((r) => r.name).sort()).toEqual(OTHERS.map((o) => o.name).sort());
    expect(await analytics(t)).toEqual(analyticsBefore);
  });

  it('refuses to bring personal data back: no rename, no new order, no replayed idempotent order', async () => {
    const own = await t.app.tokens.sign({ sub: 'customer-after-erasure', role: 'customer', customerId: h.customerId });
    const renamed = await t.gql(RenameCustomer, { input: { customerId: h.customerId, name: 'Zebulon Again' } });
    expect(renamed.data?.renameCustomer).toMatchObject({ __typename: 'NotFoundError', id: h.customerId });
    const byItself = await t.gql(RenameCustomer, { input: { customerId: h.customerId, name: 'Zebulon Again' } }, own);
    expect(byItself.data?.renameCustomer).toMatchObject({ __typename: 'Forbidden' });
    const again = await t.gql(EraseCustomer, { input: { customerId: h.customerId } });
    expect(again.data?.eraseCustomer).toMatchObject({ __typename: 'NotFoundError' });
    const order = await t.gql(CreateOrder, {
      input: { customerId: h.customerId, items: [{ productId: (await givenProduct(t)).id, quantity: 1 }] },
    });
    expect(order.data?.createOrder).toMatchObject({ __typename: 'NotFoundError' });
    // The idempotency record of the first order is gone with the key that carried the name.
    const { rows } = await t.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM idempotency_records WHERE starts_with(key, $1)',
      [h.customerId],
    );
    expect(rows[0]!.n).toBe(0);
    await caughtUp(t.pools);
    expect(await scanDatabase(t.pools, [...NEEDLES, 'Zebulon Again'], LEXEME_PREFIXES)).toEqual([]);
  });

  it('stays erased after every read model is rebuilt from the outbox', async () => {
    await rebuildEverything(t);
    expect(await scanDatabase(t.pools, NEEDLES, LEXEME_PREFIXES)).toEqual([]);
    expectOthersStillThere(await scanDatabase(t.pools, OTHER_NEEDLES, OTHER_NEEDLES));
    await expectAnonymizedOnTheReadSide(t, h);
    await expectReadModelsMatchWriteTables(t.pools);
    expect(await analytics(t)).toEqual(analyticsBefore);
  });
});

describe('eraseCustomer while a projection is stalled on an error that quotes the name', () => {
  let t: TestApp;
  let customerId: string;
  const NAME = 'Philomena Gravesend-Wick';
  const RENAMED = 'Philomena Quarrington';

  beforeAll(async () => {
    t = await createTestApp();
    // customer_order_history cannot apply a rename that still carries a name, and says which.
    const faulty = ALL_PROJECTIONS.map((p) =>
      p.name !== 'customer_order_history'
        ? p
        : {
            ...p,
            apply: (sql: Parameters<typeof p.apply>[0], events: StoredEvent[]) => {
              for (const e of events) {
                if (e.event.type === 'CustomerRenamed' && e.event.data.name) {
                  throw new Error(`cannot file the rename of "${e.event.data.name}"`);
                }
              }
              return p.apply(sql, events);
            },
          },
    );
    await t.startEngine({ projections: faulty, onFailure: 'stall', maxAttempts: 2, retryBaseMs: 10, pollMs: 100 });
  });
  afterAll(async () => t.close());

  it('removes the quote from the error, and the projection ends anonymized once resumed', async () => {
    const product = await givenProduct(t);
    customerId = await createCustomer(t, NAME, 'philomena@gravesend-wick.example');
    await createOrder(t, customerId, [{ productId: product.id, quantity: 1 }]);
    payloadOf(
      (await t.gql(RenameCustomer, { input: { customerId, name: RENAMED } })).data?.renameCustomer,
      'CustomerPayload',
    );
    const stalled = await until('customer_order_history to stall', async () => {
      const res = await t.gql(ErasureProjections);
      const p = res.data?.projections.find((x) => x.name === 'customer_order_history');
      return p?.state === 'STALLED' ? p : undefined;
    });
    expect(stalled.lastError).toContain(RENAMED);

    payloadOf((await t.gql(EraseCustomer, { input: { customerId } })).data?.eraseCustomer, 'CustomerPayload');
    const after = (await t.gql(ErasureProjections)).data!.projections.find((x) => x.name === 'customer_order_history')!;
    expect(after.state).toBe('STALLED');
    expect(after.lastError).toBe('cannot file the rename of "[erased]"');

    // The rename it stalled on no longer carries a name: resuming applies it and the erasure.
    const resumed = await t.gql(ErasureResume, { name: 'customer_order_history' });
    expect(resumed.data?.resumeProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'LIVE' });
    await caughtUp(t.pools);
    const needles = [NAME, RENAMED, 'philomena', 'gravesend', 'quarrington'];
    expect(await scanDatabase(t.pools, needles, ['philom', 'graves', 'quarr'])).toEqual([]);
  });

  it('changes nothing when the erasure fails inside its transaction', async () => {
    const email = 'cornelius@vantablack-erasure.example';
    const id = await createCustomer(t, 'Cornelius Vantablack', email);
    const own = await t.app.tokens.sign({ sub: email, role: 'customer', customerId: id });
    const product = await givenProduct(t);
    await createOrder(t, id, [{ productId: product.id, quantity: 1 }], own, 'cornelius-basket');
    const snapshot = async () => ({
      outbox: (await t.pool.query('SELECT * FROM outbox ORDER BY seq')).rows,
      idempotency: (await t.pool.query('SELECT * FROM idempotency_records ORDER BY command, key')).rows,
      customer: (await t.pool.query('SELECT * FROM customers WHERE id = $1', [id])).rows,
    });
    const before = await snapshot();
    expect(JSON.stringify(before)).toContain('Cornelius Vantablack');
    const { response, seen } = await failingAfterAppend(t, () => t.gql(EraseCustomer, { input: { customerId: id } }));
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'eraseCustomer', appended: [expect.objectContaining({ eventType: 'CustomerErased' })] },
    ]);
    expect(await snapshot()).toEqual(before);
  });
});
