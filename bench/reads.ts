// Read-side benchmarks against the service in its own process (ROLE=all):
//  read:    orders(first: 20) with items, req/s and latency, against a bare graphql-yoga
//           { hello } in the same run (both driven by bench/http.ts at the same concurrency).
//  fan-out: N concurrent SSE subscribers on orderListChanged while changes are made at a
//           fixed rate: mutation acknowledged → change received, per subscriber.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { TokenService } from '../src/auth/jwt.ts';
import { givenCatalogue, runWorkload } from '../test/support/workload.ts';
import { jsonPort, load, serve } from './http.ts';
import { type Benchmark, benchApp, closeApp, freshDatabase, summarize } from './support.ts';

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
    const seconds = smoke ? 2 : 10;
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
      seconds: 1,
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
    await load({ port: hello.port, body: JSON.stringify({ query: '{ hello }' }), concurrency, seconds: 1 });
    const baseline = await load({
      port: hello.port,
      body: JSON.stringify({ query: '{ hello }' }),
      concurrency,
      seconds,
    });
    await hello.stop();
    return {
      loadGenerator: `node http keep-alive, ${concurrency} concurrent, ${seconds} s, same machine`,
      orders,
      helloBaseline: baseline,
      ratio: Math.round((orders.perSecond / baseline.perSecond) * 100) / 100,
    };
  },
};

export const fanOutBenchmark: Benchmark = {
  name: 'fan-out',
  description: 'concurrent SSE subscribers on orderListChanged: mutation acknowledged → change received',
  async run({ server, smoke }) {
    const subscribers = smoke ? 50 : 1000;
    const rate = 10;
    const seconds = smoke ? 2 : 10;
    const databaseUrl = await freshDatabase(server);
    const app = benchApp(databaseUrl);
    const catalogue = await givenCatalogue(app, 3, 3);
    await closeApp(app);
    const env = {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: SECRET,
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      DATABASE_POOL_SIZE: '20',
    };
    const parallax = await serve('src/main.ts', env, (line) =>
      line.includes('"listening"') ? jsonPort(line) : undefined,
    );
    const token = await adminToken();
    await new Promise((r) => setTimeout(r, 1000));
    const rssBefore = await rssOf(parallax.child.pid!);
    const agent = new Agent({ keepAlive: true, maxSockets: subscribers + 10 });
    const acknowledged = new Map<string, number>();
    const latencies: number[] = [];
    let connected = 0;
    const body = JSON.stringify({
      query: 'subscription { orderListChanged { kind position order { id status totalCents } } }',
    });
    const streams = Array.from({ length: subscribers }, () => {
      const req = request({
        host: '127.0.0.1',
        port: parallax.port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      });
      req.on('response', (res) => {
        connected += 1;
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += String(chunk);
          let at = buffer.indexOf('\n\n');
          while (at >= 0) {
            const frame = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            const match = /"id":"([0-9a-f-]{36})"/.exec(frame);
            const sent = match ? acknowledged.get(match[1]!) : undefined;
            if (sent !== undefined) latencies.push(performance.now() - sent);
            at = buffer.indexOf('\n\n');
          }
        });
      });
      req.on('error', () => {});
      req.end(body);
      return req;
    });
    while (connected < subscribers) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
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
    const writeAgent = new Agent({ keepAlive: true });
    for (let i = 0; i < rate * seconds; i++) {
      const t0 = performance.now();
      const response = await post(parallax.port, writeAgent, mutation(i), token);
      const id = /"id":"([0-9a-f-]{36})"/.exec(response)?.[1];
      // The acknowledgement time is taken as the commit time (an upper bound on it).
      if (id) acknowledged.set(id, performance.now());
      const wait = 1000 / rate - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rssAfter = await rssOf(parallax.child.pid!);
    for (const s of streams) s.destroy();
    agent.destroy();
    writeAgent.destroy();
    await parallax.stop();
    const expected = acknowledged.size * subscribers;
    return {
      subscribers,
      changesPerSecond: rate,
      changes: acknowledged.size,
      delivered: latencies.length,
      expected,
      latencyMs: summarize(latencies),
      rssPerSubscriberKB: Math.round((rssAfter - rssBefore) / subscribers / 1024),
      note: 'RSS per subscriber = (RSS after the run, subscribers connected − RSS before they connected) / subscribers',
    };
  },
};

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
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
