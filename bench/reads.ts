// Read-side benchmarks against the service in its own process (ROLE=all):
//  read:    orders(first: 20) with items, req/s and latency, against a bare graphql-yoga
//           { hello } in the same run (both driven by bench/http.ts at the same concurrency).
//  fan-out: N concurrent SSE subscribers on orderListChanged while changes are made at a
//           fixed rate: mutation acknowledged → change received, per subscriber.

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
import { benchToken, jsonPort, load, serve, serveService } from './http.ts';
import { type Benchmark, benchApp, benchChildren, closeApp, freshDatabase, round2, summarize } from './support.ts';

const SECRET = randomBytes(32).toString('hex');

async function adminToken(): Promise<string> {
  return new TokenService(SECRET).sign({ sub: 'bench', role: 'admin' });
}

const ORDERS_QUERY = JSON.stringify({
  query: '{ orders(first: 20) { nodes { id customerName status totalCents items { sku quantity unitPriceCents } } } }',
});

export const readBenchmark: Benchmark = {
  name: 'read',
  description: 'orders(first: 20) with items over HTTP vs a bare graphql-yoga { hello }, same load generator',
  async run({ server, smoke }) {
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
    const loadGenerator = `node http keep-alive, closed loop, ${concurrency} concurrent clients, ${seconds} s each, same machine; service ROLE=all`;
    return {
      loadGenerator,
      orders,
      helloBaseline: baseline,
      ratio,
      summary: [
        {
          row: 'read',
          figure: `orders(first: 20) with items ${orders.perSecond} req/s, p50 ${orders.latencyMs.p50} ms, p99 ${orders.latencyMs.p99} ms`,
          baseline: `bare graphql-yoga { hello } ${baseline.perSecond} req/s, p99 ${baseline.latencyMs.p99} ms`,
          ratio,
          goal: '≥ 0.4× (stretch 0.5×)',
          met: ratio >= 0.4 && orders.errors === 0,
          load: loadGenerator,
        },
      ],
    };
  },
};

export const fanOutBenchmark: Benchmark = {
  name: 'fan-out',
  description:
    'concurrent SSE subscribers on orderListChanged (clients in child processes), 10 changes/s: mutation acknowledged → change received',
  async run({ server, smoke }) {
    const subscribers = smoke ? 50 : Number(process.env.BENCH_FANOUT_SUBSCRIBERS ?? 5000);
    const clientProcesses = smoke ? 1 : 2;
    const rate = 10;
    const seconds = smoke ? 2 : 10;
    const databaseUrl = await freshDatabase(server);
    const app = benchApp(databaseUrl);
    const catalogue = await givenCatalogue(app, 3, 3);
    await closeApp(app);
    const secret = randomBytes(32).toString('hex');
    // Every subscriber uses one admin token: the per-subject limit is lifted for the run.
    const parallax = await serveService(databaseUrl, secret, {
      DATABASE_POOL_SIZE: '20',
      LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT: '1000000',
    });
    const token = await benchToken(secret);
    await new Promise((r) => setTimeout(r, smoke ? 300 : 1000));
    const rssBefore = await rssOf(parallax.child.pid!);
    const body = JSON.stringify({
      query: 'subscription { orderListChanged { kind position order { id status totalCents } } }',
    });
    const connectStarted = performance.now();
    const clients = Array.from({ length: clientProcesses }, (_, i) => {
      const share = Math.floor(subscribers / clientProcesses) + (i < subscribers % clientProcesses ? 1 : 0);
      const child = fork(join(import.meta.dirname, 'sse-clients.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          SSE_PORT: String(parallax.port),
          SSE_TOKEN: token,
          SSE_COUNT: String(share),
          SSE_BODY: body,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      benchChildren.add(child);
      child.once('exit', () => benchChildren.delete(child));
      const connected = new Promise<{ connected: number; failed: number }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { connected: number; failed: number }));
        child.once('exit', (code) => reject(new Error(`SSE client process exited (${code})`)));
      });
      return { child, connected };
    });
    const connections = await Promise.all(clients.map((c) => c.connected));
    const connected = connections.reduce((sum, c) => sum + c.connected, 0);
    const connectSeconds = round2((performance.now() - connectStarted) / 1000);
    await new Promise((r) => setTimeout(r, smoke ? 500 : 2000));
    const rssConnected = await rssOf(parallax.child.pid!);
    // RSS sampled through the run (its peak is the figure), and the service's CPU time.
    let rssPeak = rssConnected;
    const sampler = setInterval(() => {
      rssOf(parallax.child.pid!).then(
        (rss) => {
          rssPeak = Math.max(rssPeak, rss);
        },
        () => {},
      );
    }, 250);
    const cpuBefore = await cpuMsOf(parallax.child.pid!);
    const mutation = (i: number) =>
      JSON.stringify({
        query:
          'mutation($input: CreateOrderInput!) { createOrder(input: $input) { ... on OrderPayload { order { id } } } }',
        variables: {
          input: {
            customerId: catalogue.customerIds[i % 3],
            items: [{ productId: catalogue.productIds[i % 3], quantity: 1 }],
          },
        },
      });
    const acknowledged = new Map<string, number>();
    let writeErrors = 0;
    const writeAgent = new Agent({ keepAlive: true });
    const wall = () => performance.timeOrigin + performance.now();
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    // Open loop: a change every 1/rate s, whether or not the previous one was answered.
    for (let i = 0; i < rate * seconds; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(
        post(parallax.port, writeAgent, mutation(i), token).then(
          (response) => {
            const id = /"id":"([0-9a-f-]{36})"/.exec(response)?.[1];
            // The acknowledgement time is taken as the commit time (an upper bound on it).
            if (id) acknowledged.set(id, wall());
            else writeErrors += 1;
          },
          () => {
            // A connection reset under the subscribers' load: the change is not counted.
            writeErrors += 1;
          },
        ),
      );
    }
    await Promise.all(inflight);
    await new Promise((r) => setTimeout(r, smoke ? 1000 : 3000));
    const rssAfter = await rssOf(parallax.child.pid!);
    clearInterval(sampler);
    const cpuMs = (await cpuMsOf(parallax.child.pid!)) - cpuBefore;
    const latencies: number[] = [];
    let frames = 0;
    for (const { child } of clients) {
      const report = await new Promise<{ received: Record<string, number[]>; frames: number }>((resolve) => {
        child.once('message', (m) => resolve(m as { received: Record<string, number[]>; frames: number }));
        child.send('report');
      });
      frames += report.frames;
      for (const [id, times] of Object.entries(report.received)) {
        const at = acknowledged.get(id);
        if (at !== undefined) for (const t of times) latencies.push(t - at);
      }
    }
    writeAgent.destroy();
    await parallax.stop();
    const expected = acknowledged.size * subscribers;
    const latencyMs = summarize(latencies);
    const perSubscriberKB = (rss: number) => round2((rss - rssBefore) / subscribers / 1024);
    const rssPerSubscriberKB = perSubscriberKB(Math.max(rssPeak, rssAfter));
    const loadGenerator = `${subscribers} SSE subscribers (graphql-sse over HTTP/1.1) in ${clientProcesses} child process(es); ${rate} createOrder/s over HTTP for ${seconds} s; service ROLE=all, in-process bus`;
    const complete = latencies.length === expected && connected === subscribers;
    return {
      loadGenerator,
      subscribers,
      connected,
      changesAcknowledged: acknowledged.size,
      writeErrors,
      connectSeconds,
      changesPerSecond: rate,
      changes: acknowledged.size,
      delivered: latencies.length,
      framesReceived: frames,
      expected,
      latencyMs,
      rssMB: {
        before: round2(rssBefore / 2 ** 20),
        connected: round2(rssConnected / 2 ** 20),
        peakDuringRun: round2(rssPeak / 2 ** 20),
        after: round2(rssAfter / 2 ** 20),
      },
      rssPerSubscriberKB: { connectedIdle: perSubscriberKB(rssConnected), peak: rssPerSubscriberKB },
      serviceCpu: {
        seconds: round2(cpuMs / 1000),
        perDeliveryMicroseconds: round2((cpuMs * 1000) / Math.max(1, latencies.length)),
      },
      note: 'latency: from the mutation answer at the writer (an upper bound on commit) to the frame at the subscriber; RSS per subscriber: (service RSS − RSS before any subscriber) / subscribers, once connected and idle, and at its peak during the run (sampled every 250 ms, and after it); service CPU: user + system time of the service process from the first change until 3 s after the last, per change delivered',
      summary: [
        {
          row: 'fan-out',
          figure: `${subscribers} subscribers: commit → client p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms; ${rssPerSubscriberKB} KB RSS each at peak (${perSubscriberKB(rssConnected)} KB connected idle); service CPU ${round2((cpuMs * 1000) / Math.max(1, latencies.length))} µs per delivery; ${latencies.length}/${expected} delivered`,
          baseline: null,
          ratio: null,
          goal: 'p99 ≤ 100 ms, ≤ 10 KB each, every change delivered',
          met: complete && latencyMs.p99 <= 100 && rssPerSubscriberKB <= 10,
          load: loadGenerator,
        },
      ],
    };
  },
};

/** User + system CPU time of a process so far (ms). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

function post(port: number, agent: Agent, body: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += String(d);
        });
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

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
