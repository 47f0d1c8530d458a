// The read-model response cache (graphql/readCache.ts, READ_CACHE_MAX_ENTRIES): it
// answers a repeated query without executing it, but never with data older than a
// position the caller holds, never another scope's data, and never for a caller
// waiting on a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { CreateOrder } from '../support/documents.ts';
import { caughtUp } from '../support/projections.ts';
import { scrapeMetrics } from '../support/prometheus.ts';
import { type Catalogue, givenCatalogue } from '../support/workload.ts';

const Page = graphql(`
  query CachedPage($customerId: ID, $consistency: ConsistencyInput) {
    orders(first: 50, filter: { customerId: $customerId }, consistency: $consistency) {
      nodes { id customerId customerEmail }
    }
  }
`);

let t: TestApp;
let catalogue: Catalogue;

beforeAll(async () => {
  t = await createTestApp({ env: { READ_CACHE_MAX_ENTRIES: '100', READ_CACHE_TTL_MS: '60000' } });
  catalogue = await givenCatalogue(t.app, 2, 2);
  await t.startEngine({ pollMs: 100 });
  await caughtUp(t.pools);
});
afterAll(async () => t.close());

const count = async (outcome: 'hit' | 'miss') =>
  (await scrapeMetrics(t.app.metrics)).value('parallax_read_cache_total', { outcome }) ?? 0;
const hits = () => count('hit');

async function order(customerId: string) {
  const res = await t.gql(CreateOrder, {
    input: { customerId, items: [{ productId: catalogue.productIds[0]!, quantity: 1 }] },
  });
  if (res.data?.createOrder.__typename !== 'OrderPayload') throw new Error(JSON.stringify(res));
  return res.data.createOrder;
}

describe('the read cache', () => {
  it('answers a repeated query from the cache, with the freshness extension, and executes again once a projection moves', async () => {
    const [a] = catalogue.customerIds;
    await order(a!);
    await caughtUp(t.pools);
    const first = await t.gql(Page, {});
    expect(first.extensions?.readCache).toBeUndefined();
    const before = await hits();
    const second = await t.gql(Page, {});
    expect(second.extensions?.readCache).toBe('HIT');
    expect(await hits()).toBe(before + 1);
    expect(second.data).toEqual(first.data);
    expect(second.extensions?.readModels).toHaveProperty('order_list_view');

    // A caller holding a token is never served from the cache, and every answer after
    // its wait is at least as new as its token.
    const created = await order(a!);
    const waited = await t.gql(Page, { consistency: { atLeast: created.position } });
    expect(waited.extensions?.readCache).toBeUndefined();
    expect(waited.data?.orders.nodes.map((n) => n.id)).toContain(created.order!.id);
    const after = await t.gql(Page, {});
    expect(after.data?.orders.nodes.map((n) => n.id)).toContain(created.order!.id);
  });

  it("keeps scopes apart: a customer never gets another's answer, support gets masked emails", async () => {
    const [a, b] = catalogue.customerIds as [string, string];
    await order(b);
    await caughtUp(t.pools);
    const tokenA = await t.customerToken(a);
    const tokenB = await t.customerToken(b);
    // The same document and variables for both customers, twice each.
    for (let i = 0; i < 2; i++) {
      const asA = await t.gql(Page, {}, tokenA);
      const asB = await t.gql(Page, {}, tokenB);
      expect(new Set(asA.data?.orders.nodes.map((n) => n.customerId))).toEqual(new Set([a]));
      expect(new Set(asB.data?.orders.nodes.map((n) => n.customerId))).toEqual(new Set([b]));
      if (i === 1) {
        expect(asA.extensions?.readCache).toBe('HIT');
        expect(asB.extensions?.readCache).toBe('HIT');
      }
    }
    const admin = await t.gql(Page, { customerId: a });
    const support = await t.gql(Page, { customerId: a }, t.supportToken);
    const supportAgain = await t.gql(Page, { customerId: a }, t.supportToken);
    expect(supportAgain.extensions?.readCache).toBe('HIT');
    const email = admin.data!.orders.nodes[0]!.customerEmail!;
    expect(email).toMatch(/^[^*]+@/);
    for (const r of [support, supportAgain]) {
      expect(r.data!.orders.nodes[0]!.customerEmail).toBe(`${email[0]}***${email.slice(email.indexOf('@'))}`);
    }
  });

  it('executes concurrent identical requests once (single flight)', async () => {
    const [missesBefore, hitsBefore] = [await count('miss'), await count('hit')];
    // Variables no request has used yet: a key with no entry.
    const customerId = catalogue.customerIds[1]!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.gql(Page, { customerId })));
    expect(answers.every((a) => a.errors === undefined)).toBe(true);
    expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).toBe(1);
    expect((await count('miss')) - missesBefore).toBe(1);
    expect((await count('hit')) - hitsBefore).toBe(9);
  });

  it('does not answer a caller without a token', async () => {
    const res = await t.gql(Page, {}, null);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data?.orders).toBeUndefined();
  });
});
