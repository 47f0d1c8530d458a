// Abuse limits: each refusal is a GraphQL error with its own code, and nothing runs.
import { randomBytes } from 'node:crypto';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRedisClient } from '../../src/bus/redis.ts';
import { loadConfig } from '../../src/config.ts';
import { mutationFieldCount } from '../../src/graphql/limits.ts';
import { createGraphQLServer } from '../../src/graphql/yoga.ts';
import { createApp } from '../../src/runtime.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing, writeCounts } from '../support/db.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    env: {
      MAX_QUERY_DEPTH: '4',
      MAX_QUERY_ALIASES: '3',
      MAX_QUERY_COST: '50',
      MAX_QUERY_TOKENS: '300',
      MAX_BATCH_OPERATIONS: '2',
      MAX_VARIABLES_BYTES: '500',
      MAX_DOCUMENT_BYTES: '2000',
      MUTATION_RATE_LIMIT: '3',
      MUTATION_RATE_WINDOW_MS: '60000',
    },
  });
});
afterAll(async () => t.close());

const admin = () => ({ authorization: `Bearer ${t.adminToken}` });

async function refused(body: Record<string, unknown> | unknown[], code: string) {
  const res = await changesNothing(t.pool, () => t.request(body as Record<string, unknown>, admin()));
  expect(res.status).toBeLessThan(500);
  const errors = Array.isArray(res.json)
    ? (res.json as { errors?: unknown[] }[]).flatMap((r) => r.errors ?? [])
    : res.json.errors;
  expect(errors?.length).toBeGreaterThan(0);
  expect((errors as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)).toContain(code);
  return res;
}

describe('limits', () => {
  it('refuses a query deeper than MAX_QUERY_DEPTH with QUERY_TOO_DEEP', async () => {
    const res = await refused({ query: '{ orders { edges { node { items { sku } } } } }' }, 'QUERY_TOO_DEEP');
    expect(res.json.errors?.[0]?.message).toContain('depth limit of 4');
  });

  it('refuses more aliases than MAX_QUERY_ALIASES with TOO_MANY_ALIASES', async () => {
    await refused(
      { query: '{ a: products { id } b: products { id } c: products { id } d: products { id } }' },
      'TOO_MANY_ALIASES',
    );
  });

  it('refuses a query costing more than MAX_QUERY_COST with QUERY_TOO_COMPLEX', async () => {
    await refused(
      {
        query:
          '{ orders { nodes { id customerId customerName customerEmail status totalCents itemCount lineCount version createdAt updatedAt items { sku quantity productName unitPriceCents lineNo productId } } } }',
      },
      'QUERY_TOO_COMPLEX',
    );
  });

  it('refuses a document of more than MAX_QUERY_TOKENS tokens with TOO_MANY_TOKENS', async () => {
    await refused({ query: `{ products(first: [${'1 '.repeat(400)}]) { id } }` }, 'TOO_MANY_TOKENS');
  });

  it('refuses a document over MAX_DOCUMENT_BYTES with DOCUMENT_TOO_LARGE', async () => {
    await refused({ query: `{ __typename }\n# ${'x'.repeat(2500)}` }, 'DOCUMENT_TOO_LARGE');
  });

  it('refuses variables over MAX_VARIABLES_BYTES with VARIABLES_TOO_LARGE, and runs nothing', async () => {
    await refused(
      {
        query: 'mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename } }',
        variables: { input: { name: 'x'.repeat(600), email: 'big@example.com' } },
      },
      'VARIABLES_TOO_LARGE',
    );
  });

  it('runs a batch of MAX_BATCH_OPERATIONS and refuses a larger one', async () => {
    const ok = await t.request([{ query: '{ __typename }' }, { query: '{ products { id } }' }] as never, admin());
    expect(ok.status).toBe(200);
    expect((ok.json as unknown as unknown[]).length).toBe(2);
    const res = await t.request(
      [{ query: '{ __typename }' }, { query: '{ __typename }' }, { query: '{ __typename }' }] as never,
      admin(),
    );
    expect(res.status).toBe(413);
    expect(JSON.stringify(res.json)).toContain('Batching is limited to 2 operations per request');
  });

  it('does not suggest field names outside development', async () => {
    const res = await t.request({ query: '{ prodcts { id } }' }, admin());
    expect(res.json.errors?.[0]?.message).not.toContain('Did you mean');
    expect(loadConfig({ NODE_ENV: 'development' }).limits.fieldSuggestions).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).limits.fieldSuggestions).toBe(false);
  });

  it('answers introspection (as GraphiQL sends it) within the default limits', async () => {
    const app = await createTestApp();
    try {
      const { getIntrospectionQuery } = await import('graphql');
      const res = await app.request({
        query: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }),
      });
      expect(res.status).toBe(200);
      expect(res.json.errors).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('limits mutations per subject: past MUTATION_RATE_LIMIT they are RATE_LIMITED and change nothing', async () => {
    const token = await t.customerToken('00000000-0000-4000-8000-00000000abcd');
    const rename = {
      query:
        'mutation { renameCustomer(input: { customerId: "00000000-0000-4000-8000-00000000abcd", name: "N" }) { __typename } }',
    };
    for (let i = 0; i < 3; i++) {
      const res = await t.request(rename, { authorization: `Bearer ${token}` });
      expect(res.json.data).toEqual({ renameCustomer: { __typename: 'NotFoundError' } });
    }
    const limited = await changesNothing(t.pool, () => t.request(rename, { authorization: `Bearer ${token}` }));
    expect(limited.status).toBe(429);
    expect(limited.json.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(limited.json.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
    // Another subject and queries are not affected.
    const other = await t.request(rename, admin());
    expect(other.json.data).toEqual({ renameCustomer: { __typename: 'NotFoundError' } });
    const query = await t.request({ query: '{ products { id } }' }, { authorization: `Bearer ${token}` });
    expect(query.json.errors).toBeUndefined();
  });

  it('counts every mutation field that will run, fragments expanded: four in one fragment cost four points (finding 2)', async () => {
    const token = await t.app.tokens.sign({ sub: `fragments-${randomBytes(4).toString('hex')}`, role: 'admin' });
    // Four fields (three aliased: MAX_QUERY_ALIASES is 3 here) against MUTATION_RATE_LIMIT 3.
    const fields = [0, 1, 2, 3]
      .map(
        (i) =>
          `${i ? `c${i}: ` : ''}createCustomer(input: { name: "Fragment ${i}", email: "fragment${i}@example.com" }) { __typename }`,
      )
      .join(' ');
    const res = await changesNothing(t.pool, () =>
      t.request(
        { query: `mutation { ...F } fragment F on Mutation { ${fields} }` },
        { authorization: `Bearer ${token}` },
      ),
    );
    expect(res.status, JSON.stringify(res.json)).toBe(429);
    expect(res.json.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('adds up the operations of a batch', async () => {
    const token = await t.app.tokens.sign({ sub: `batch-${randomBytes(4).toString('hex')}`, role: 'admin' });
    const op = (tag: string) => ({
      query: `mutation { ... on Mutation { a: createCustomer(input: { name: "Batch ${tag}a", email: "${tag}a@example.com" }) { __typename } } b: createCustomer(input: { name: "Batch ${tag}b", email: "${tag}b@example.com" }) { __typename } }`,
    });
    const before = await writeCounts(t.pool);
    const res = await t.request([op('x'), op('y')] as never, { authorization: `Bearer ${token}` });
    const results = res.json as unknown as { data?: unknown; errors?: { extensions?: { code?: string } }[] }[];
    expect(results).toHaveLength(2);
    expect(results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED')).toHaveLength(1);
    expect((await writeCounts(t.pool)).customers).toBe((before.customers ?? 0) + 2);
  });

  it('counts fields as graphql-js runs them: skipped fields, __typename and repeated response keys are free', () => {
    const count = (source: string, variables: Record<string, unknown> = {}) => {
      const document = parse(source);
      const operation = document.definitions.find((d) => d.kind === 'OperationDefinition')!;
      return mutationFieldCount(operation as never, document.definitions, variables);
    };
    expect(count('mutation { a: x b: x __typename }')).toBe(2);
    expect(count('mutation { a: x a: x }')).toBe(1);
    expect(count('mutation { ...F ...F } fragment F on Mutation { a: x ...G } fragment G on Mutation { b: x }')).toBe(
      2,
    );
    expect(count('mutation { ... { a: x ... on Mutation { b: x c: x } } }')).toBe(3);
    expect(count('mutation($s: Boolean!) { a: x @skip(if: $s) b: x @include(if: false) c: x }', { s: true })).toBe(1);
    expect(
      count('mutation($s: Boolean!) { a: x @skip(if: $s) ...F @include(if: true) } fragment F on Mutation { f: x }', {
        s: false,
      }),
    ).toBe(2);
  });

  it('shares one budget per subject between API processes on one Redis (REDIS_URL)', async () => {
    const redis = createRedisClient(inject('redisUrl'), t.app.log, 'rate-limit');
    try {
      // Until the connection is ready each process counts in memory (the insurance limiter).
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
      const store = { redis, keyPrefix: `parallax:limits-${randomBytes(4).toString('hex')}` };
      const yogas = [1, 2].map(() =>
        createGraphQLServer(
          createApp({
            config: t.app.config,
            pool: t.pool,
            log: t.app.log,
            tokens: t.app.tokens,
            bus: t.app.bus,
            rateLimitStore: store,
          }),
        ),
      );
      const token = await t.customerToken('00000000-0000-4000-8000-00000000beef');
      const rename = `renameCustomer(input: { customerId: "00000000-0000-4000-8000-00000000beef", name: "N" }) { __typename }`;
      const send = async (yoga: (typeof yogas)[number]) => {
        const response = await yoga.fetch('http://test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: `mutation { a: ${rename} b: ${rename} }` }),
        });
        return {
          status: response.status,
          json: (await response.json()) as { errors?: { extensions?: { code?: string } }[] },
        };
      };
      const first = await send(yogas[0]!);
      expect(first.json.errors).toBeUndefined();
      const second = await send(yogas[1]!);
      expect(second.status, JSON.stringify(second.json)).toBe(429);
      expect(second.json.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses strings with an unpaired surrogate with BAD_USER_INPUT, writing nothing (found by the fuzzer)', async () => {
    const mutation = 'mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { __typename } }';
    // As raw JSON text: JSON.stringify would escape what the client may send as is.
    for (const name of ['\\ud800', 'a\\udc00b', '\\udbff']) {
      const body = `{"query":"${mutation}","variables":{"i":{"name":"${name}","email":"surrogate@example.com"}}}`;
      const res = await changesNothing(t.pool, () => t.request(body, admin()));
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    // A surrogate pair is a character like any other (another subject: this file's admin has a small budget).
    const token = await t.app.tokens.sign({ sub: `surrogates-${randomBytes(4).toString('hex')}`, role: 'admin' });
    const ok = await t.request(
      `{"query":"${mutation}","variables":{"i":{"name":"Emoji \\ud83d\\ude00","email":"emoji@example.com"}}}`,
      { authorization: `Bearer ${token}` },
    );
    expect(ok.json.errors, JSON.stringify(ok.json)).toBeUndefined();
  });
});
