// Hostile input through the real HTTP server: well over 1,000 generated requests
// (seeded, so every run sends the same ones) of random bytes, broken JSON, huge
// strings, deep nesting, alias floods, wrong variable types, SQL and tsquery syntax in
// search text, bad cursors, positions and tokens, and batches. Every answer must be a
// well-formed GraphQL-over-HTTP error or result, never a 5xx; the server must still
// serve afterwards; and the failing commands among them must leave the write tables
// exactly as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { listen, postAsAdmin, type TestServer } from '../support/server.ts';
import { adminContext } from '../support/workload.ts';

/** mulberry32: a tiny seeded PRNG, so the suite is deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

interface Probe {
  kind: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
  method?: string;
  /** Query string of a GET. */
  search?: string;
  /** A command that must fail (the write tables are compared before and after). */
  failingCommand?: boolean;
}

const NASTY = [
  "'; DROP TABLE orders; --",
  "' OR '1'='1",
  '"; SELECT pg_sleep(10); --',
  '\\',
  "a' & b | !c",
  'foo:* & (bar | !baz)',
  '<->',
  "'':*",
  '!!!',
  '&|!():*',
  '%_%',
  '\u0000',
  '\uFFFF\uD800',
  '😀 ∑ ß',
  '$1 $2',
  '--',
  '/* */',
  '${jndi:ldap://x}',
  '\n\r\t',
  ' ',
];

let t: TestApp;
let server: TestServer;
let realOrderId: string;
let otherCustomerId: string;
let productId: string;

async function writeChecksums(): Promise<Record<string, string>> {
  const tables = ['customers', 'products', 'orders', 'order_items', 'outbox', 'idempotency_records'];
  const out: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await t.pool.query<{ n: string; sum: string | null }>(
      `SELECT count(*)::text AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS sum FROM ${table} AS x`,
    );
    out[table] = `${rows[0]!.n}:${rows[0]!.sum}`;
  }
  return out;
}

function generate(seed: number, count: number, customerToken: string): Probe[] {
  const r = prng(seed);
  const admin = { authorization: `Bearer ${t.adminToken}` };
  const json = (value: unknown) => JSON.stringify(value);
  const str = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(r.int(3) === 0 ? r.int(0xd7ff) : 32 + r.int(95))).join('');
  const generators: (() => Probe)[] = [
    () => ({
      kind: 'random bytes',
      body: Uint8Array.from({ length: 1 + r.int(2000) }, () => r.int(256)),
      headers: admin,
    }),
    () => {
      const good = json({ query: '{ products { id } }' });
      const cut = good.slice(0, r.int(good.length));
      return {
        kind: 'invalid JSON',
        body: r.pick([cut, `${good}}`, `{"query": ${str(20)}`, '[', 'null', '42', '"x"', '{}']),
        headers: admin,
      };
    },
    () => ({
      kind: 'huge string',
      body: json({
        query: 'query($t: String!) { searchOrders(text: $t) { total } }',
        variables: { t: 'x'.repeat(r.pick([201, 5000, 90_000, 150_000])) },
      }),
      headers: admin,
    }),
    () => {
      const depth = 5 + r.int(300);
      return {
        kind: 'deep nesting',
        body: json({ query: `{ ${'orders { nodes { '.repeat(depth)}id${' } }'.repeat(depth)} }` }),
        headers: admin,
      };
    },
    () => {
      const depth = 10 + r.int(3000);
      return {
        kind: 'deep JSON variables',
        body: `{"query":"{ __typename }","variables":{"v":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
        headers: admin,
      };
    },
    () => {
      const n = 16 + r.int(500);
      return {
        kind: 'alias flood',
        body: json({ query: `{ ${Array.from({ length: n }, (_, i) => `a${i}: products { id }`).join(' ')} }` }),
        headers: admin,
      };
    },
    () => ({
      kind: 'wrong variable type',
      body: json({
        query: r.pick([
          'query($n: Int) { orders(first: $n) { nodes { id } } }',
          'query($id: ID!) { order(id: $id) { id } }',
          'query($f: OrderFilter) { orders(filter: $f) { nodes { id } } }',
          'query($d: DateTime!) { orderAnalytics(from: $d, to: $d) { orderCount } }',
        ]),
        variables: r.pick([
          { n: 'twenty' },
          { n: 1e300 },
          { n: -1 },
          { id: { nested: true } },
          { id: [1, 2] },
          { f: { status: 'NOPE' } },
          { f: 'string' },
          { d: 'yesterday' },
          { d: 12 },
          {},
        ]),
      }),
      headers: admin,
    }),
    () => ({
      kind: 'search syntax',
      body: json({
        query:
          'query($t: String!, $p: String!) { searchOrders(text: $t) { total hits { orderId } } autocomplete(prefix: $p) { term } }',
        variables: { t: `${r.pick(NASTY)} ${r.pick(NASTY)}`, p: r.pick(NASTY).slice(0, 100) || 'x' },
      }),
      headers: r.pick([admin, { authorization: `Bearer ${customerToken}` }]),
    }),
    () => ({
      kind: 'bad cursor or position',
      body: json({
        query: r.pick([
          'query($c: String) { orders(after: $c) { nodes { id } } }',
          'query($c: String) { searchOrders(text: "a", after: $c) { total } }',
          'query($c: String!) { orders(consistency: { atLeast: $c, timeoutMs: 50 }) { nodes { id } } }',
        ]),
        variables: {
          c: r.pick([
            str(10),
            'eyJ4IjoxfQ',
            Buffer.from(`p1:${r.int(10)}:-1`).toString('base64url'),
            'x'.repeat(500),
            '',
            Buffer.from(json([1e99, 'x'])).toString('base64url'),
          ]),
        },
      }),
      headers: admin,
    }),
    () => ({
      kind: 'bad token',
      body: json({ query: '{ products { id } }' }),
      headers: {
        authorization: r.pick([
          'Bearer',
          'Bearer ',
          `Bearer ${Array.from({ length: 40 }, () => String.fromCharCode(33 + r.int(94))).join('')}`,
          'Basic dXNlcjpwYXNz',
          `Bearer ${t.adminToken.slice(0, -3)}abc`,
          `Bearer ${t.adminToken}.extra`,
          `Bearer eyJhbGciOiJub25lIn0.${Buffer.from(json({ sub: 'x', role: 'admin' })).toString('base64url')}.`,
          'x'.repeat(5000),
        ]),
      },
    }),
    () => {
      const n = 1 + r.int(12);
      return {
        kind: 'batch',
        body: json(
          Array.from({ length: n }, () =>
            r.pick([
              { query: '{ products { id } }' },
              { query: '{ nope }' },
              null,
              42,
              { query: 7 },
              { variables: {} },
            ]),
          ),
        ),
        headers: admin,
      };
    },
    () => ({
      kind: 'failing command',
      failingCommand: true,
      body: json(
        r.pick([
          {
            query: 'mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename } }',
            variables: { i: { customerId: otherCustomerId, items: [{ productId: crypto.randomUUID(), quantity: 1 }] } },
          },
          {
            query: 'mutation($i: CreateOrderInput!) { createOrder(input: $i) { __typename } }',
            variables: {
              i: { customerId: otherCustomerId, items: [{ productId, quantity: r.pick([0, -5, 1001, 2 ** 31 - 1]) }] },
            },
          },
          {
            query: 'mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { __typename } }',
            variables: { i: { name: r.pick(['', ' ', 'x'.repeat(201)]), email: r.pick(NASTY) } },
          },
          {
            query: 'mutation($i: UpdateOrderStatusInput!) { updateOrderStatus(input: $i) { __typename } }',
            variables: { i: { orderId: r.pick([crypto.randomUUID(), r.pick(NASTY)]), status: 'SHIPPED' } },
          },
          {
            query: 'mutation($i: UpdateOrderStatusInput!) { updateOrderStatus(input: $i) { __typename } }',
            variables: { i: { orderId: realOrderId, status: r.pick(['DELIVERED', 'SHIPPED', 'PENDING']) } },
          },
          {
            query: 'mutation($i: AddOrderItemInput!) { addOrderItem(input: $i) { __typename } }',
            variables: { i: { orderId: realOrderId, productId, quantity: 1, expectedVersion: 99 } },
          },
          {
            query: 'mutation($i: RenameCustomerInput!) { renameCustomer(input: $i) { __typename } }',
            variables: { i: { customerId: otherCustomerId, name: r.pick(['', 'x'.repeat(250), 'ok']) } },
          },
          {
            query: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { __typename } }',
            variables: { i: { sku: r.pick(NASTY), name: 'Bad', priceCents: -1 } },
          },
          { query: 'mutation { cancelOrder(input: { orderId: 12 }) { __typename } }' },
          {
            query: `mutation { ${Array.from({ length: 20 }, (_, i) => `c${i}: eraseCustomer(input: { customerId: "${crypto.randomUUID()}" }) { __typename }`).join(' ')} }`,
          },
        ]),
      ),
      headers: r.int(4) === 0 ? { authorization: `Bearer ${customerToken}` } : admin,
    }),
    () => ({
      kind: 'GET with junk',
      method: 'GET',
      body: '',
      headers: admin,
      search: `?query=${encodeURIComponent(r.pick(NASTY).replace(/[\uD800-\uDFFF]/g, '?'))}&variables=%7B`,
    }),
  ];
  return Array.from({ length: count }, () => r.pick(generators)());
}

function isWellFormed(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0 && value.every(isWellFormed);
  if (!value || typeof value !== 'object') return false;
  const v = value as { data?: unknown; errors?: unknown };
  if ('errors' in v) {
    if (!Array.isArray(v.errors) || v.errors.length === 0) return false;
    if (!v.errors.every((e) => e && typeof (e as { message?: unknown }).message === 'string')) return false;
  }
  return 'data' in v || 'errors' in v;
}

beforeAll(async () => {
  t = await createTestApp();
  server = await listen(t);
  const ctx = adminContext(t.app);
  productId = (await createProduct(ctx, { sku: 'HOSTILE-1', name: 'Hostile widget', priceCents: 900 })).productId;
  otherCustomerId = (await createCustomer(ctx, { name: 'Other', email: 'other@example.com' })).customerId;
  realOrderId = (await createOrder(ctx, { customerId: otherCustomerId, items: [{ productId, quantity: 1 }] })).orderId;
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('hostile input', () => {
  it('answers 1,200 generated requests with well-formed GraphQL responses, no 5xx, and changes nothing', async () => {
    const { customerId: mine } = await createCustomer(adminContext(t.app), { name: 'Mine', email: 'mine@example.com' });
    const customerToken = await t.customerToken(mine);
    const probes = generate(20261127, 1200, customerToken);
    const before = await writeChecksums();

    const failures: string[] = [];
    const kinds = new Map<string, number>();
    let next = 0;
    async function worker() {
      while (next < probes.length) {
        const probe = probes[next++]!;
        kinds.set(probe.kind, (kinds.get(probe.kind) ?? 0) + 1);
        const url = `${server.url}${probe.search ?? ''}`;
        const response = await fetch(url, {
          method: probe.method ?? 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json',
            ...probe.headers,
          },
          body: probe.method === 'GET' ? undefined : (probe.body as BodyInit),
        });
        const text = await response.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (response.status >= 500 || !isWellFormed(body)) {
          failures.push(`${probe.kind}: HTTP ${response.status} ${text.slice(0, 200)}`);
        } else if (probe.failingCommand) {
          const data = (body as { data?: Record<string, { __typename?: string } | null> | null }).data;
          for (const [field, value] of Object.entries(data ?? {})) {
            if (value?.__typename?.endsWith('Payload')) failures.push(`${probe.kind}: ${field} succeeded`);
          }
        }
      }
    }
    await Promise.all(Array.from({ length: 6 }, worker));

    expect(failures).toEqual([]);
    expect(probes.length).toBeGreaterThanOrEqual(1000);
    expect(kinds.size).toBe(13);
    expect(kinds.get('failing command')).toBeGreaterThan(50);
    expect(await writeChecksums()).toEqual(before);

    // Still up and serving.
    const health = await fetch(server.url.replace('/graphql', '/health'));
    expect(health.status).toBe(200);
    const ok = await postAsAdmin(server.url, t.adminToken, { query: '{ products { sku } }' });
    expect(await ok.json()).toEqual({ data: { products: [{ sku: 'HOSTILE-1' }] } });
    // Nothing went to the log as an internal error.
    expect(t.logs.filter((l) => l.msg === 'internal error' || l.msg === 'request failed')).toEqual([]);
  });
});
