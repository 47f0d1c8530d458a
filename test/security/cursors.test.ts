// Page cursors are opaque and integrity-checked: a cursor this server did not make (or
// made for another query) is BAD_USER_INPUT before anything in it is read, never an
// internal error; a real cursor still pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/jwt.ts';
import { CursorCodec } from '../../src/read/paging.ts';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { caughtUp } from '../support/projections.ts';

let t: TestApp;
let customerId: string;

const ORDERS = 'query($c: String) { orders(first: 2, after: $c) { nodes { id } pageInfo { endCursor } } }';
const HISTORY =
  'query($id: ID!, $c: String) { customerOrderHistory(customerId: $id, first: 2, after: $c) { nodes { orderId } pageInfo { endCursor } } }';
const SEARCH = 'query($c: String) { searchOrders(text: "", first: 2, after: $c) { total pageInfo { endCursor } } }';

beforeAll(async () => {
  t = await createTestApp();
  await t.startEngine();
  const product = await givenProduct(t);
  customerId = (await givenCustomer(t)).id;
  for (let i = 0; i < 5; i++) await givenOrder(t, customerId, [{ productId: product.id, quantity: 1 + i }]);
  await caughtUp(t.pools);
});
afterAll(async () => t.close());

const admin = () => ({ authorization: `Bearer ${t.adminToken}` });
const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function ask(query: string, variables: Record<string, unknown>) {
  return t.request({ query, variables }, admin());
}

async function expectRefused(query: string, variables: Record<string, unknown>) {
  const logged = t.logs.length;
  const res = await ask(query, variables);
  expect(res.status, JSON.stringify(res.json)).toBeLessThan(500);
  expect(res.json.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  expect(res.json.errors?.[0]?.extensions?.argument).toBe('after');
  expect(t.logs.slice(logged).filter((l) => (l.level as number) >= 50)).toEqual([]);
}

describe('page cursors', () => {
  it('refuses tampered but well-formed cursors with BAD_USER_INPUT and logs no error (finding 6)', async () => {
    await expectRefused(ORDERS, { c: base64(['not-a-date', 'x']) });
    await expectRefused(HISTORY, { id: customerId, c: base64(['not-a-date', 'x']) });
    await expectRefused(SEARCH, { c: base64([1e20]) });
    await expectRefused(SEARCH, { c: base64([-5]) });
  });

  it('pages with the cursors it hands out (the control)', async () => {
    const first = await ask(ORDERS, {});
    const after = (first.json.data as { orders: { pageInfo: { endCursor: string } } }).orders.pageInfo.endCursor;
    const second = await ask(ORDERS, { c: after });
    expect(second.json.errors).toBeUndefined();
    expect((second.json.data as { orders: { nodes: unknown[] } }).orders.nodes).toHaveLength(2);

    const search = await ask(SEARCH, {});
    const searchAfter = (search.json.data as { searchOrders: { pageInfo: { endCursor: string } } }).searchOrders
      .pageInfo.endCursor;
    expect((await ask(SEARCH, { c: searchAfter })).json.errors).toBeUndefined();

    const history = await ask(HISTORY, { id: customerId });
    const historyAfter = (history.json.data as { customerOrderHistory: { pageInfo: { endCursor: string } } })
      .customerOrderHistory.pageInfo.endCursor;
    expect((await ask(HISTORY, { id: customerId, c: historyAfter })).json.errors).toBeUndefined();
  });

  it('refuses a real cursor whose values or MAC were changed, or which pages another query', async () => {
    const first = await ask(ORDERS, {});
    const cursor = (first.json.data as { orders: { pageInfo: { endCursor: string } } }).orders.pageInfo.endCursor;
    const [body, mac] = cursor.split('.') as [string, string];
    const values = JSON.parse(Buffer.from(body, 'base64url').toString()) as [string, string];
    // The same MAC over other values, e.g. an older date to skip ahead.
    await expectRefused(ORDERS, { c: `${base64(['2000-01-01T00:00:00.000Z', values[1]])}.${mac}` });
    await expectRefused(ORDERS, { c: `${body}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}` });
    await expectRefused(ORDERS, { c: body });
    await expectRefused(ORDERS, { c: `${cursor}.${mac}` });
    // An orders cursor is no history cursor, though both hold (createdAt, orderId).
    await expectRefused(HISTORY, { id: customerId, c: cursor });
    await expectRefused(SEARCH, { c: cursor });
  });

  it('refuses a cursor made with another secret, and one made for valid-looking but wrong values', async () => {
    const foreign = new CursorCodec(new TokenService(`${TEST_JWT_SECRET}-other`).deriveKey('page cursors'));
    await expectRefused(ORDERS, {
      c: foreign.encode('orders', ['2030-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
    });
    // Even a cursor with this server's key is checked value by value.
    const own = new CursorCodec(new TokenService(TEST_JWT_SECRET).deriveKey('page cursors'));
    await expectRefused(ORDERS, { c: own.encode('orders', ['not-a-date', 'x']) });
    await expectRefused(SEARCH, { c: own.encode('search', [1e20]) });
    expect(
      (await ask(ORDERS, { c: own.encode('orders', ['2030-01-01T00:00:00.000Z', customerId]) })).json.errors,
    ).toBeUndefined();
  });
});
