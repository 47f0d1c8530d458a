// Property-based fuzzing of the GraphQL endpoint (fast-check, a fixed seed): requests
// generated from the schema, valid, near-valid and hostile (test/support/fuzz.ts),
// against the real server (yoga.fetch, real PostgreSQL, the projection engine running).
// For every request: no 5xx, no INTERNAL_SERVER_ERROR, no error-level log line, and a
// request whose mutations were all refused leaves the write tables as they were. Every
// few hundred requests, and at the end, a plain query must still be answered.
//
// FUZZ_RUNS (default 5,000) and FUZZ_SEED (default 19) change the run; FUZZ_LONG=1
// (or `npm run fuzz -- --long`) soaks with 200,000 requests.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { writeCounts } from '../support/db.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { type FuzzRequest, type Pool, RequestGenerator } from '../support/fuzz.ts';
import { caughtUp } from '../support/projections.ts';

const LONG = process.env.FUZZ_LONG === '1';
const RUNS = Number(process.env.FUZZ_RUNS ?? (LONG ? 200_000 : 5_000));
const SEED = Number(process.env.FUZZ_SEED ?? 19);
const ERROR_TYPES = new Set([
  'ValidationError',
  'NotFoundError',
  'ConcurrencyConflict',
  'InvalidTransition',
  'Forbidden',
]);

let t: TestApp;
let pool: Pool;

beforeAll(async () => {
  // The rate limit has its own tests; here it would turn most mutations into RATE_LIMITED.
  t = await createTestApp({ env: { MUTATION_RATE_LIMIT: '1000000' } });
  await t.startEngine();
  const products = [await givenProduct(t), await givenProduct(t), await givenProduct(t)];
  const customers = [await givenCustomer(t), await givenCustomer(t), await givenCustomer(t)];
  const positions: string[] = [];
  const orderIds: string[] = [];
  for (const [i, customer] of customers.entries()) {
    for (let n = 0; n < 3; n++) {
      const order = await givenOrder(t, customer.id, [{ productId: products[(i + n) % 3]!.id, quantity: 1 + n }]);
      orderIds.push(order.order.id);
      positions.push(order.position);
    }
  }
  await caughtUp(t.pools);
  const cursors: string[] = [];
  const read = await t.request(
    {
      query: `query($c: ID!) {
        orders(first: 2) { pageInfo { endCursor } }
        searchOrders(text: "", first: 2) { pageInfo { endCursor } }
        customerOrderHistory(customerId: $c, first: 1) { pageInfo { endCursor } }
      }`,
      variables: { c: customers[0]!.id },
    },
    { authorization: `Bearer ${t.adminToken}` },
  );
  const data = read.json.data as Record<string, { pageInfo: { endCursor: string | null } }>;
  for (const connection of Object.values(data))
    if (connection.pageInfo.endCursor) cursors.push(connection.pageInfo.endCursor);
  pool = {
    customerIds: customers.map((c) => c.id),
    orderIds,
    productIds: products.map((p) => p.id),
    skus: products.map((p) => p.sku),
    positions,
    cursors,
    tokens: {
      admin: t.adminToken,
      support: t.supportToken,
      customer: await t.customerToken(customers[0]!.id),
      otherCustomer: await t.customerToken(customers[1]!.id),
    },
  };
});
afterAll(async () => t?.close());

type Result = {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; extensions?: { code?: string; committed?: boolean } }[];
};

function resultsOf(text: string): Result[] {
  try {
    const parsed = JSON.parse(text) as Result | Result[];
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return [];
  }
}

/**
 * Whether a mutation in the response reports success (then writes are expected): a
 * success payload, or an error that says the command committed (CONSISTENCY_TIMEOUT
 * after a write, with its position).
 */
function mayHaveWritten(results: Result[]): boolean {
  if (results.some((r) => r.errors?.some((e) => e.extensions?.committed === true))) return true;
  return results.some((r) =>
    Object.values(r.data ?? {}).some((value) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
      const typename = (value as { __typename?: unknown }).__typename;
      return typeof typename !== 'string' || !ERROR_TYPES.has(typename);
    }),
  );
}

async function stillServes(): Promise<void> {
  const res = await t.request({ query: '{ products { id } }' }, { authorization: `Bearer ${t.adminToken}` });
  expect(res.status).toBe(200);
  expect(res.json.errors).toBeUndefined();
}

describe('fuzzing the GraphQL endpoint', () => {
  it(
    `answers ${RUNS} generated requests (seed ${SEED}) without a 5xx, an internal error, an error log or a write by a refused request`,
    async () => {
      const generator = new RequestGenerator(schema, pool);
      const stats = {
        requests: 0,
        valid: 0,
        near: 0,
        hostile: 0,
        status: {} as Record<number, number>,
        codes: {} as Record<string, number>,
      };
      const started = Date.now();

      const check = async (request: FuzzRequest) => {
        const logged = t.logs.length;
        const before = request.mutation ? await writeCounts(t.pool) : undefined;
        const response = await t.yoga.fetch(`http://test${request.path}`, {
          method: request.method,
          headers: request.headers,
          ...(request.body !== undefined ? { body: request.body } : {}),
        });
        const text = await response.text();
        const results = resultsOf(text);
        stats.requests += 1;
        stats[request.mode] += 1;
        stats.status[response.status] = (stats.status[response.status] ?? 0) + 1;
        const errors = results.flatMap((r) => r.errors ?? []);
        for (const e of errors) {
          const code = e.extensions?.code ?? 'none';
          stats.codes[code] = (stats.codes[code] ?? 0) + 1;
        }
        const where = `${request.mode} ${request.method} ${request.summary}\n→ ${response.status} ${text.slice(0, 1_000)}`;
        expect(response.status, where).toBeLessThan(500);
        expect(
          errors.filter((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR'),
          where,
        ).toEqual([]);
        const errorLogs = t.logs.slice(logged).filter((line) => (line.level as number) >= 50);
        expect(errorLogs, where).toEqual([]);
        if (before && !mayHaveWritten(results)) expect(await writeCounts(t.pool), where).toEqual(before);
        if (stats.requests % 500 === 0) await stillServes();
      };

      await fc.assert(fc.asyncProperty(generator.any(), check), { seed: SEED, numRuns: RUNS, endOnFailure: true });
      await stillServes();
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      console.log(`fuzz: ${stats.requests} requests in ${seconds} s (seed ${SEED})`, JSON.stringify(stats));
      expect(stats.requests).toBe(RUNS);
    },
    LONG ? 24 * 3_600_000 : 900_000,
  );
});
