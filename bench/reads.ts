// Read-side benchmarks against the service in its own process (ROLE=all):
//  read:    orders(first: 20) with items, req/s and latency, against a bare graphql-yoga
//           { hello } in the same run (both driven by bench/http.ts at the same concurrency).
//  (the live delivery benchmarks are in bench/live.ts)

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { TokenService } from '../src/auth/jwt.ts';
import { createGraphQLServer } from '../src/graphql/yoga.ts';
import { createEngine } from '../src/runtime.ts';
import { createOrder } from '../src/write/order/handle.ts';
import { adminContext, givenCatalogue, runWorkload } from '../test/support/workload.ts';
import { benchToken, jsonPort, load, post, serve, serveService } from './http.ts';
import { type Benchmark, benchApp, benchChildren, closeApp, freshDatabase, round2, summarize } from './support.ts';

const SECRET = randomBytes(32).toString('hex');

async function adminToken(): Promise<string> {
  return new TokenService(SECRET).sign({ sub: 'bench', role: 'admin' });
}

const ORDERS_QUERY = JSON.stringify({
  query: '{ orders(first: 20) { nodes { id customerName status totalCents items { sku quantity unitPriceCents } } } }',
});

/** Without the write benchmark in the same run: the order of the last measured maximum. */
const DEFAULT_MAX_WRITE_RATE = 500;

/** createOrder over HTTP at `rate` per second for `seconds` (open loop); resolves to the answers that were OrderPayload. */
async function openLoopWrites(
  port: number,
  token: string,
  catalogue: { customerIds: string[]; productIds: string[] },
  rate: number,
  seconds: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const started = performance.now();
  const inflight: Promise<boolean>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = JSON.stringify({
      query: 'mutation W($input: CreateOrderInput!) { createOrder(input: $input) { __typename } }',
      variables: {
        input: {
          customerId: catalogue.customerIds[i % catalogue.customerIds.length],
          items: [{ productId: catalogue.productIds[i % catalogue.productIds.length], quantity: 1 }],
        },
      },
    });
    inflight.push(
      post(port, agent, body, token)
        .then((text) => text.includes('OrderPayload'))
        .catch(() => false),
    );
  }
  const ok = (await Promise.all(inflight)).filter(Boolean).length;
  agent.destroy();
  return ok;
}

export const readBenchmark: Benchmark = {
  name: 'read',
  description: 'orders(first: 20) with items over HTTP vs a bare graphql-yoga { hello }, same load generator',
  async run({ server, smoke, shared }) {
    const databaseUrl = await freshDatabase(server);
    const app = benchApp(databaseUrl);
    const catalogue = await givenCatalogue(app, 10, 20);
    await runWorkload(app, catalogue, { writers: 4, commandsPerWriter: smoke ? 20 : 150 });
    await closeApp(app);
    const concurrency = 16;
    const seconds = smoke ? 1 : 10;
    const env = { DATABASE_URL: databaseUrl, JWT_SECRET: SECRET, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production' };
    const parallax = await serve('src/main.ts', env, (line) =>
      line.includes('"listening"') ? jsonPort(line) : undefined,
    );
    const token = await adminToken();
    // Let the engine catch up before measuring reads.
    await new Promise((r) => setTimeout(r, smoke ? 500 : 3000));
    await load({
      port: parallax.port,
      body: ORDERS_QUERY,
      headers: { authorization: `Bearer ${token}` },
      concurrency,
      seconds: smoke ? 0.3 : 1,
    });
    const orders = await load({
      port: parallax.port,
      body: ORDERS_QUERY,
      headers: { authorization: `Bearer ${token}` },
      concurrency,
      seconds,
    });
    await parallax.stop();

    // The same with the read cache on (READ_CACHE_MAX_ENTRIES), without writes, then with
    // createOrder at 10% of the maximum write rate on the same service (open loop), so
    // the projections move and cached answers keep being replaced.
    const cached = await serve('src/main.ts', { ...env, READ_CACHE_MAX_ENTRIES: '1000' }, (line) =>
      line.includes('"listening"') ? jsonPort(line) : undefined,
    );
    const headers = { authorization: `Bearer ${token}` };
    await new Promise((r) => setTimeout(r, smoke ? 300 : 1000));
    await load({ port: cached.port, body: ORDERS_QUERY, headers, concurrency, seconds: smoke ? 0.3 : 1 });
    const cachedOrders = await load({ port: cached.port, body: ORDERS_QUERY, headers, concurrency, seconds });
    const writeRate = Math.max(1, Math.round((shared.maxWriteRate ?? DEFAULT_MAX_WRITE_RATE) * 0.1));
    const writer = openLoopWrites(cached.port, token, catalogue, writeRate, seconds);
    const cachedUnderWrites = await load({ port: cached.port, body: ORDERS_QUERY, headers, concurrency, seconds });
    const written = await writer;
    await cached.stop();

    const hello = await serve('bench/hello-server.ts', {}, jsonPort);
    await load({
      port: hello.port,
      body: JSON.stringify({ query: '{ hello }' }),
      concurrency,
      seconds: smoke ? 0.3 : 1,
    });
    const baseline = await load({
      port: hello.port,
      body: JSON.stringify({ query: '{ hello }' }),
      concurrency,
      seconds,
    });
    await hello.stop();
    const ratio = round2(orders.perSecond / baseline.perSecond);
    const cachedRatio = round2(cachedOrders.perSecond / baseline.perSecond);
    const underWritesRatio = round2(cachedUnderWrites.perSecond / baseline.perSecond);
    const loadGenerator = `node http keep-alive, closed loop, ${concurrency} concurrent clients, ${seconds} s each, same machine; service ROLE=all; with the read cache (READ_CACHE_MAX_ENTRIES=1000) without writes and with ${writeRate} createOrder/s (10% of the maximum write rate, open loop)`;
    const line = (r: typeof orders) => `${r.perSecond} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`;
    return {
      loadGenerator,
      orders,
      cached: { noWrites: cachedOrders, underWrites: cachedUnderWrites, writeRate, writes: written },
      helloBaseline: baseline,
      ratio,
      cachedRatio,
      underWritesRatio,
      summary: [
        {
          row: 'read',
          figure: `orders(first: 20) with items: read cache on ${line(cachedOrders)} (${cachedRatio}×); with ${writeRate} writes/s ${line(cachedUnderWrites)} (${underWritesRatio}×); read cache off (the default) ${line(orders)} (${ratio}×)`,
          baseline: `bare graphql-yoga { hello } ${baseline.perSecond} req/s, p99 ${baseline.latencyMs.p99} ms`,
          ratio: underWritesRatio,
          goal: '≥ 0.4× (stretch 0.5×)',
          met: underWritesRatio >= 0.4 && cachedOrders.errors + cachedUnderWrites.errors + orders.errors === 0,
          load: loadGenerator,
        },
      ],
    };
  },
};

const CHECKOUT = `mutation Checkout($input: CreateOrderInput!) {
  createOrder(input: $input) { __typename ... on OrderPayload { position order { id } } }
}`;
const READ_BACK = `query ReadBack($id: ID!, $position: String!) {
  order(id: $id, consistency: { atLeast: $position, timeoutMs: 5000 }) { id status totalCents }
}`;

export const readYourWritesBenchmark: Benchmark = {
  name: 'read-your-writes',
  description:
    'createOrder, then order(id, consistency: { atLeast: position }) on the same connection, vs createOrder alone',
  async run({ server, smoke, shared }) {
    const concurrency = 4;
    const seconds = smoke ? 0.6 : 8;
    const databaseUrl = await freshDatabase(server);
    const app = benchApp(databaseUrl);
    const catalogue = await givenCatalogue(app, 10, smoke ? 4 : 20);
    await closeApp(app);
    const secret = randomBytes(32).toString('hex');
    const service = await serveService(databaseUrl, secret);
    const token = await benchToken(secret);
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    let n = 0;
    const checkout = async () => {
      const i = n++;
      const text = await post(
        service.port,
        agent,
        JSON.stringify({
          query: CHECKOUT,
          variables: {
            input: {
              customerId: catalogue.customerIds[i % catalogue.customerIds.length],
              items: [0, 1, 2].map((k) => ({
                productId: catalogue.productIds[(i + k * 3) % catalogue.productIds.length],
                quantity: 1 + k,
              })),
            },
          },
        }),
        token,
      );
      const payload = (JSON.parse(text) as { data?: { createOrder?: { position?: string; order?: { id: string } } } })
        .data?.createOrder;
      if (!payload?.position || !payload.order) throw new Error(`createOrder failed: ${text.slice(0, 300)}`);
      return { id: payload.order.id, position: payload.position };
    };
    const closedLoop = async (step: () => Promise<void>, duration: number) => {
      const latencies: number[] = [];
      const end = performance.now() + duration * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await step();
            latencies.push(performance.now() - t0);
          }
        }),
      );
      return {
        requests: latencies.length,
        perSecond: Math.round(latencies.length / duration),
        latencyMs: summarize(latencies),
      };
    };
    let stale = 0;
    const roundTrip = async () => {
      const { id, position } = await checkout();
      const text = await post(
        service.port,
        agent,
        JSON.stringify({ query: READ_BACK, variables: { id, position } }),
        token,
      );
      if (!text.includes(`"id":"${id}"`)) stale += 1;
    };
    const alone = async () => {
      await checkout();
    };
    try {
      await closedLoop(roundTrip, Math.min(1, seconds / 2)); // warm-up
      // Alternate the two so both see the same machine state.
      const a1 = await closedLoop(alone, seconds / 2);
      const r1 = await closedLoop(roundTrip, seconds / 2);
      const a2 = await closedLoop(alone, seconds / 2);
      const r2 = await closedLoop(roundTrip, seconds / 2);
      const merge = (x: typeof a1, y: typeof a1) => ({
        requests: x.requests + y.requests,
        perSecond: Math.round((x.perSecond + y.perSecond) / 2),
        latencyMs: {
          n: x.latencyMs.n + y.latencyMs.n,
          p50: round2((x.latencyMs.p50 + y.latencyMs.p50) / 2),
          p99: Math.max(x.latencyMs.p99, y.latencyMs.p99),
          max: Math.max(x.latencyMs.max, y.latencyMs.max),
        },
      });
      const createOrderAlone = merge(a1, a2);
      const withReadBack = merge(r1, r2);
      const overheadP50 = round2(withReadBack.latencyMs.p50 - createOrderAlone.latencyMs.p50);
      const overheadP99 = round2(withReadBack.latencyMs.p99 - createOrderAlone.latencyMs.p99);
      const limit = shared.lagP99Ms;
      const loadGenerator = `node http keep-alive, closed loop, ${concurrency} concurrent clients, ${seconds} s each (two alternating halves); service ROLE=all`;
      return {
        loadGenerator,
        roundTrip: withReadBack,
        createOrderAlone,
        readsThatMissedTheirWrite: stale,
        overheadMs: { p50: overheadP50, p99: overheadP99 },
        lagP99Ms: limit ?? null,
        summary: [
          {
            row: 'read-your-writes',
            figure: `round trip p50 ${withReadBack.latencyMs.p50} ms, p99 ${withReadBack.latencyMs.p99} ms; overhead p50 ${overheadP50} ms, p99 ${overheadP99} ms; ${stale} stale reads`,
            baseline: `createOrder alone p50 ${createOrderAlone.latencyMs.p50} ms, p99 ${createOrderAlone.latencyMs.p99} ms`,
            ratio: round2(withReadBack.latencyMs.p99 / createOrderAlone.latencyMs.p99),
            goal:
              limit === undefined
                ? 'overhead ≤ lag p99 (lag not run: 50 ms goal used)'
                : `overhead ≤ lag p99 (${limit} ms)`,
            met: stale === 0 && overheadP99 <= (limit ?? 50),
            load: loadGenerator,
          },
        ],
      };
    } finally {
      agent.destroy();
      await service.stop();
    }
  },
};

const ORDERS_PAGE =
  'query Page($first: Int!) { orders(first: $first) { nodes { id customerName status totalCents items { sku quantity unitPriceCents } } pageInfo { hasNextPage endCursor } } }';

export const n1Benchmark: Benchmark = {
  name: 'n+1',
  description:
    'SQL statements per orders(first: N) request with items, N = 20 and 100 (every statement the pool sends)',
  async run({ server, smoke }) {
    const databaseUrl = await freshDatabase(server);
    const app = benchApp(databaseUrl);
    const catalogue = await givenCatalogue(app, 10, 10);
    // At least 100 orders (the larger page is full), then a mixed workload on top.
    const ctx = adminContext(app);
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 27; i++) {
          await createOrder(ctx, {
            customerId: catalogue.customerIds[(w + i) % catalogue.customerIds.length]!,
            items: [{ productId: catalogue.productIds[i % catalogue.productIds.length]!, quantity: 1 + w }],
          });
        }
      }),
    );
    if (!smoke) await runWorkload(app, catalogue, { writers: 4, commandsPerWriter: 100 });
    app.engine = createEngine(app, databaseUrl);
    await app.engine.start();
    // Until every projection applied everything.
    for (let i = 0; i < 400; i++) {
      const { rows } = await app.pool.query(
        'SELECT bool_and(events_applied >= (SELECT count(*) FROM outbox)) AS done FROM projection_checkpoints',
      );
      if (rows[0].done) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await app.engine.stop();
    app.engine = undefined;
    const yoga = createGraphQLServer(app);
    const token = await app.tokens.sign({ sub: 'bench', role: 'admin' });
    const ask = async (first: number) => {
      const response = await yoga.fetch('http://bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: ORDERS_PAGE, variables: { first } }),
      });
      const body = (await response.json()) as { data?: { orders?: { nodes: unknown[] } } };
      return body.data?.orders?.nodes.length ?? 0;
    };
    const original = pg.Client.prototype.query;
    let statements = 0;
    const counts: Record<string, number[]> = { '20': [], '100': [] };
    const rows: Record<string, number> = {};
    try {
      await ask(20); // warm-up (caches, prepared plans)
      (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
        statements += 1;
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      };
      for (let round = 0; round < 3; round++) {
        for (const first of [20, 100]) {
          statements = 0;
          rows[first] = await ask(first);
          counts[first]!.push(statements);
        }
      }
    } finally {
      pg.Client.prototype.query = original;
      await closeApp(app);
    }
    const worst = (first: number) => Math.max(...counts[first]!);
    const equal = worst(20) === worst(100) && Math.min(...counts['20']!) === Math.min(...counts['100']!);
    const loadGenerator =
      'one request at a time, in process (yoga.fetch), admin token; statements counted at the pg client, 3 rounds';
    return {
      loadGenerator,
      rowsReturned: rows,
      statementsPerRequest: counts,
      summary: [
        {
          row: 'n+1',
          figure: `${worst(100)} SQL statements per request at first: 100 (${rows[100]} orders with items)`,
          baseline: `${worst(20)} at first: 20`,
          ratio: round2(worst(100) / worst(20)),
          goal: 'equal',
          met: equal && rows[100] === 100,
          load: loadGenerator,
        },
      ],
    };
  },
};
