import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';
import type { OrdersPageQuery, OrdersPageQueryVariables } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp } from '../support/projections.ts';
import { adminContext } from '../support/workload.ts';

const Orders = graphql(`
  query OrdersPage($first: Int, $after: String, $filter: OrderFilter) {
    orders(first: $first, after: $after, filter: $filter) {
      nodes { id customerName customerEmail status totalCents itemCount items { sku productName quantity } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const Search = graphql(`
  query Search($text: String!, $filters: OrderFilter, $first: Int) {
    searchOrders(text: $text, filters: $filters, first: $first) {
      total
      hits { orderId customerName skus productNames status totalCents }
      facets { status { status count } amount { key count } createdAt { from to } }
    }
  }
`);

const Suggest = graphql(`
  query Suggest($prefix: String!, $limit: Int) { autocomplete(prefix: $prefix, limit: $limit) { term kind orders } }
`);

const History = graphql(`
  query History($customerId: ID!, $first: Int, $after: String) {
    customerOrderHistory(customerId: $customerId, first: $first, after: $after) {
      nodes { orderId summary { status totalCents customerName lineCount } itemsPreview { lineNo sku } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const Analytics = graphql(`
  query Analytics($from: DateTime!, $to: DateTime!) {
    orderAnalytics(from: $from, to: $to, bucket: DAY) { bucketStart status orderCount revenueCents itemsSold }
  }
`);

let t: TestApp;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp();
  const ctx = adminContext(t.app);
  const products = {
    keyboard: await createProduct(ctx, { sku: 'KB-MECH-01', name: 'Mechanical keyboard', priceCents: 12_900 }),
    mouse: await createProduct(ctx, { sku: 'MS-ERGO-02', name: 'Ergonomic mouse', priceCents: 5_900 }),
    monitor: await createProduct(ctx, { sku: 'MN-27-4K', name: 'Monitor 27 inch', priceCents: 38_900 }),
  };
  const ada = await createCustomer(ctx, { name: 'Ada Lovelace', email: 'ada@example.com' });
  const grace = await createCustomer(ctx, { name: 'Grace Hopper', email: 'grace@example.com' });
  ids.ada = ada.customerId;
  ids.grace = grace.customerId;
  ids.keyboardOrder = (
    await createOrder(ctx, {
      customerId: ada.customerId,
      items: [{ productId: products.keyboard.productId, quantity: 1 }],
    })
  ).orderId;
  ids.monitorOrder = (
    await createOrder(ctx, {
      customerId: grace.customerId,
      items: [
        { productId: products.monitor.productId, quantity: 3 },
        { productId: products.mouse.productId, quantity: 1 },
      ],
    })
  ).orderId;
  await updateOrderStatus(ctx, { orderId: ids.monitorOrder, status: 'CONFIRMED' });
  // 120 more small orders for paging and N+1 checks.
  for (let i = 0; i < 120; i++) {
    await createOrder(ctx, {
      customerId: i % 2 ? ada.customerId : grace.customerId,
      items: [
        { productId: products.mouse.productId, quantity: 1 + (i % 3) },
        { productId: products.keyboard.productId, quantity: 1 },
      ],
    });
  }
  await t.startEngine();
  await caughtUp(t.pools);
});
afterAll(async () => t.close());

describe('orders', () => {
  it('pages newest first with stable cursors and no overlap', async () => {
    const seen: string[] = [];
    let after: string | null | undefined = null;
    for (;;) {
      const res: Awaited<ReturnType<typeof t.gql<OrdersPageQuery, OrdersPageQueryVariables>>> = await t.gql(Orders, {
        first: 50,
        after,
      });
      seen.push(...res.data!.orders.nodes.map((n) => n.id));
      if (!res.data!.orders.pageInfo.hasNextPage) break;
      after = res.data!.orders.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(122);
    expect(new Set(seen).size).toBe(122);
  });

  it('issues the same number of SQL statements for first: 20 and first: 100 (no N+1)', async () => {
    const original = t.readPool.query.bind(t.readPool);
    let statements = 0;
    t.readPool.query = ((...args: Parameters<typeof original>) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
      if (/order_list_view/.test(text)) statements += 1;
      return original(...args);
    }) as typeof t.readPool.query;
    const counts: number[] = [];
    try {
      for (const first of [20, 100]) {
        statements = 0;
        const res = await t.gql(Orders, { first });
        expect(res.data!.orders.nodes).toHaveLength(first);
        expect(res.data!.orders.nodes.every((n) => n.items.length > 0)).toBe(true);
        counts.push(statements);
      }
    } finally {
      t.readPool.query = original as typeof t.readPool.query;
    }
    expect(counts[0]).toBe(counts[1]);
    // The page and its items in one statement.
    expect(counts[0]).toBe(1);
  });

  it('reads items with the page (nodes, edges, fragments) as the per-order loader does, and only when asked', async () => {
    const original = t.readPool.query.bind(t.readPool);
    const statements: string[] = [];
    t.readPool.query = ((...args: Parameters<typeof original>) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
      if (/order_list_view/.test(text)) statements.push(text);
      return original(...args);
    }) as typeof t.readPool.query;
    const LINE = 'lineNo productId productName sku quantity unitPriceCents';
    type Line = Record<string, unknown>;
    const pages: { id: string; items: Line[] }[][] = [];
    try {
      for (const query of [
        `{ orders(first: 30) { nodes { id items { ${LINE} } } } }`,
        `{ orders(first: 30) { edges { node { id ...Lines } } } } fragment Lines on OrderView { items { ${LINE} } }`,
        `{ orders(first: 30) { ... on OrderConnection { nodes { id ... on OrderView { items { ${LINE} } } } } } }`,
      ]) {
        statements.length = 0;
        const res = await t.request({ query }, { authorization: `Bearer ${t.adminToken}` });
        const orders = (res.json.data as { orders: { nodes?: unknown[]; edges?: { node: unknown }[] } }).orders;
        pages.push((orders.nodes ?? orders.edges!.map((e) => e.node)) as { id: string; items: Line[] }[]);
        expect(statements).toHaveLength(1);
        expect(statements[0]).toMatch(/order_list_view_items/);
      }
      // Without items in the selection, the items table is not read.
      statements.length = 0;
      await t.request(
        { query: '{ orders(first: 30) { nodes { id totalCents } } }' },
        {
          authorization: `Bearer ${t.adminToken}`,
        },
      );
      expect(statements).toHaveLength(1);
      expect(statements[0]).not.toMatch(/order_list_view_items/);
    } finally {
      t.readPool.query = original as typeof t.readPool.query;
    }
    expect(pages[1]).toEqual(pages[0]);
    expect(pages[2]).toEqual(pages[0]);
    // The same lines, in the same order, as `order(id)` reads through the loader.
    const withSeveralLines = pages[0]!.filter((o) => o.items.length > 1).slice(0, 5);
    expect(withSeveralLines.length).toBeGreaterThan(0);
    for (const order of [...withSeveralLines, pages[0]![0]!]) {
      const one = await t.request(
        { query: `query($id: ID!) { order(id: $id) { id items { ${LINE} } } }`, variables: { id: order.id } },
        { authorization: `Bearer ${t.adminToken}` },
      );
      expect((one.json.data as { order: { items: Line[] } }).order.items).toEqual(order.items);
      expect(order.items.map((i) => i.lineNo)).toEqual(
        [...order.items.map((i) => i.lineNo as number)].sort((a, b) => a - b),
      );
    }
  });

  it('shows support the email masked and a customer only its own orders', async () => {
    const support = await t.gql(Orders, { first: 5 }, t.supportToken);
    for (const n of support.data!.orders.nodes) expect(n.customerEmail).toMatch(/^[ag]\*\*\*@example\.com$/);
    const own = await t.gql(Orders, { first: 100 }, await t.customerToken(ids.ada!));
    expect(own.data!.orders.nodes.every((n) => n.customerName === 'Ada Lovelace')).toBe(true);
    expect(own.data!.orders.nodes[0]!.customerEmail).toBe('ada@example.com');
    const other = await t.gql(Orders, { first: 5, filter: { customerId: ids.grace } }, await t.customerToken(ids.ada!));
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('rejects a forged cursor with BAD_USER_INPUT', async () => {
    const res = await t.gql(Orders, { first: 5, after: 'not-a-cursor' });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('searchOrders and autocomplete', () => {
  it('finds orders by customer name, product name and SKU prefix', async () => {
    const byName = await t.gql(Search, { text: 'grac' });
    expect(byName.data!.searchOrders.hits.every((h) => h.customerName === 'Grace Hopper')).toBe(true);
    expect(byName.data!.searchOrders.total).toBe(61);
    const byProduct = await t.gql(Search, { text: 'monitor' });
    expect(byProduct.data!.searchOrders.hits.map((h) => h.orderId)).toEqual([ids.monitorOrder]);
    const bySku = await t.gql(Search, { text: 'MN-27' });
    expect(bySku.data!.searchOrders.hits.map((h) => h.orderId)).toEqual([ids.monitorOrder]);
    const both = await t.gql(Search, { text: 'ada mechanical' });
    expect(both.data!.searchOrders.total).toBe(61);
  });

  it('counts facets over the matches: status, amount buckets and date range', async () => {
    const res = await t.gql(Search, { text: 'grace', filters: { status: 'CONFIRMED' } });
    const { facets, total, hits } = res.data!.searchOrders;
    expect(total).toBe(1);
    expect(hits.map((h) => h.orderId)).toEqual([ids.monitorOrder]);
    // The status facet ignores the status filter: 60 PENDING and 1 CONFIRMED for Grace.
    expect(facets.status).toEqual([
      { status: 'CONFIRMED', count: 1 },
      { status: 'PENDING', count: 60 },
    ]);
    // The monitor order: 3 × 389.00 + 59.00 = 1,226.00 → OVER_1000.
    expect(facets.amount.find((b) => b.key === 'OVER_1000')?.count).toBe(1);
    expect(facets.amount.reduce((n, b) => n + b.count, 0)).toBe(1);
    expect(facets.createdAt.from).toEqual(expect.any(String));
  });

  it('survives tsquery and SQL special characters in search text', async () => {
    for (const text of ['a & b | !c', "' OR 1=1 --", ':*', '(((', '\\', 'ü-ß ñ', '<->', '']) {
      const res = await t.gql(Search, { text });
      expect(res.errors, text).toBeUndefined();
    }
  });

  it('suggests prefix matches ranked by how many orders carry them', async () => {
    const res = await t.gql(Suggest, { prefix: 'm' });
    const terms = res.data!.autocomplete;
    expect(terms[0]?.orders).toBe(121);
    expect(terms.find((s) => s.term === 'Mechanical keyboard')).toEqual({
      term: 'Mechanical keyboard',
      kind: 'product',
      orders: 121,
    });
    expect(terms.find((s) => s.term === 'Monitor 27 inch')?.orders).toBe(1);
    expect(terms.map((s) => s.term)).toEqual(
      expect.arrayContaining(['Mechanical keyboard', 'MS-ERGO-02', 'Monitor 27 inch', 'MN-27-4K']),
    );
    const counts = terms.map((s) => s.orders);
    expect([...counts].sort((a, b) => b - a)).toEqual(counts);
    expect(terms.map((s) => s.term)).not.toContain('Ergonomic mouse');
    // Close (trigram) matches fill up after the prefix matches.
    const fuzzy = await t.gql(Suggest, { prefix: 'keybord' });
    expect(fuzzy.data!.autocomplete.map((s) => s.term)).toContain('Mechanical keyboard');
    const customer = await t.gql(Suggest, { prefix: 'gr' }, await t.customerToken(ids.ada!));
    expect(customer.data!.autocomplete).toEqual([]);
  });
});

describe('customerOrderHistory and orderAnalytics', () => {
  it('lists a customer history newest first with a three-line preview', async () => {
    const res = await t.gql(History, { customerId: ids.grace!, first: 100 });
    const nodes = res.data!.customerOrderHistory.nodes;
    expect(nodes).toHaveLength(61);
    const monitor = nodes.find((n) => n.orderId === ids.monitorOrder)!;
    expect(monitor.summary).toMatchObject({
      status: 'CONFIRMED',
      totalCents: 122_600,
      customerName: 'Grace Hopper',
      lineCount: 2,
    });
    expect(monitor.itemsPreview.map((i) => i.sku)).toEqual(['MN-27-4K', 'MS-ERGO-02']);
  });

  it('sums orders per day and status', async () => {
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    const res = await t.gql(Analytics, { from, to });
    const rows = res.data!.orderAnalytics;
    expect(rows.reduce((n, r) => n + r.orderCount, 0)).toBe(122);
    expect(rows.find((r) => r.status === 'CONFIRMED')?.revenueCents).toBe(122_600);
    const own = await t.gql(Analytics, { from, to }, await t.customerToken(ids.ada!));
    expect(own.data!.orderAnalytics.reduce((n, r) => n + r.orderCount, 0)).toBe(61);
  });
});
