// Live delivery benchmarks: subscribers on orderListChanged in child processes
// (bench/live-clients.ts) while changes are made at a fixed rate over HTTP against the
// service in its own process (ROLE=all, in-process bus). Latency is from the mutation's
// answer at the writer (an upper bound on its commit) to the frame at the subscriber,
// so it includes the projection's lag.
//  fan-out:    5,000 SSE subscribers (admin, unfiltered), 10 changes/s; also the memory
//              and CPU-per-delivery rows.
//  fan-out-ws: 1,000 graphql-ws subscribers, same load.
//  filtered:   customers each on its own list, 200 changes/s spread over them, at 1,000
//              and 5,000 subscribers: CPU per change should not depend on the count.
//  isolation:  1,000 SSE subscribers at 50 changes/s plus one on a wide document (so its
//              socket fills fast), first reading, then never reading.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { TokenService } from '../src/auth/jwt.ts';
import { givenCatalogue } from '../test/support/workload.ts';
import { benchToken, cpuMsOf, post, rssOf, serveService } from './http.ts';
import { type Benchmark, benchApp, benchChildren, closeApp, freshDatabase, round2, summarize } from './support.ts';

const LIST_QUERY = 'subscription { orderListChanged { kind position order { id status totalCents } } }';
/** Every field of an order and its lines, 15 times (the alias limit): ~15 KB a change. */
const WIDE_QUERY = `subscription { orderListChanged { ${Array.from(
  { length: 15 },
  (_, i) =>
    `o${i}: order { id status customerId customerName customerEmail totalCents itemCount lineCount version createdAt updatedAt items { lineNo productId sku productName quantity unitPriceCents } }`,
).join(' ')} } }`;

interface LiveRun {
  transport: 'sse' | 'ws';
  subscribers: number;
  /** admin: every subscriber sees every change; customers: one subscriber per customer, its own orders. */
  scope: 'admin' | 'customers';
  rate: number;
  seconds: number;
  clientProcesses: number;
  /**
   * One more subscriber in its own process, on a wide document (its socket fills fast):
   * 'stalled' stops reading once subscribed, 'reading' reads (the run to compare with).
   */
  wide?: 'stalled' | 'reading';
}

/** Quantiles of a Prometheus histogram scraped from the service, as bucket upper bounds (ms). */
async function deliveryHistogram(port: number): Promise<{ count: number; p50: number | null; p99: number | null }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^parallax_live_delivery_seconds_bucket\{.*le="([^"]+)".*\} (\d+)/.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const count = sorted.at(-1)?.[1] ?? 0;
  const quantile = (q: number) => {
    const hit = sorted.find(([, n]) => n >= q * count);
    return hit && Number.isFinite(hit[0]) ? hit[0] * 1000 : null;
  };
  return { count, p50: quantile(0.5), p99: quantile(0.99) };
}

interface ClientReport {
  received: Record<string, number[]>;
  frames: number;
  stalled: { framesRead: number; code: string | null; resumeAfter: string | null }[];
}

function startClients(port: number, transport: string, query: string, tokens: string[], stalled = false) {
  const child = fork(join(import.meta.dirname, 'live-clients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      LIVE_PORT: String(port),
      LIVE_TRANSPORT: transport,
      LIVE_BODY: JSON.stringify({ query }),
      LIVE_STALLED: stalled ? '1' : '0',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  benchChildren.add(child);
  child.once('exit', () => benchChildren.delete(child));
  const connected = new Promise<{ connected: number; failed: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { connected: number; failed: number }));
    child.once('exit', (code) => reject(new Error(`live client process exited (${code})`)));
  });
  child.send({ tokens });
  return { child, connected };
}

function report(child: ChildProcess): Promise<ClientReport> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as ClientReport));
    child.send('report');
  });
}

async function runLive(run: LiveRun, smoke: boolean, server: Parameters<Benchmark['run']>[0]['server']) {
  const databaseUrl = await freshDatabase(server);
  const app = benchApp(databaseUrl);
  const catalogue = await givenCatalogue(app, 3, run.scope === 'customers' ? run.subscribers : 3);
  await closeApp(app);
  const secret = randomBytes(32).toString('hex');
  // Every admin subscriber uses one token: the per-subject limit is lifted for the run.
  const parallax = await serveService(databaseUrl, secret, {
    DATABASE_POOL_SIZE: '20',
    LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT: '1000000',
  });
  const admin = await benchToken(secret);
  const tokens = new TokenService(secret);
  const subscriberTokens =
    run.scope === 'admin'
      ? Array.from({ length: run.subscribers }, () => admin)
      : await Promise.all(
          catalogue.customerIds.map((customerId) =>
            tokens.sign({ sub: `customer:${customerId}`, role: 'customer', customerId }),
          ),
        );
  await new Promise((r) => setTimeout(r, smoke ? 300 : 1000));
  const pid = parallax.child.pid!;
  const rssBefore = await rssOf(pid);
  const connectStarted = performance.now();
  const clients = Array.from({ length: run.clientProcesses }, (_, i) =>
    startClients(
      parallax.port,
      run.transport,
      LIST_QUERY,
      subscriberTokens.filter((_, k) => k % run.clientProcesses === i),
    ),
  );
  const stalled = run.wide
    ? startClients(parallax.port, 'sse', WIDE_QUERY, [admin], run.wide === 'stalled')
    : undefined;
  const connections = await Promise.all([...clients, ...(stalled ? [stalled] : [])].map((c) => c.connected));
  const connected = connections.reduce((sum, c) => sum + c.connected, 0);
  const connectSeconds = round2((performance.now() - connectStarted) / 1000);
  await new Promise((r) => setTimeout(r, smoke ? 500 : 2000));
  const rssConnected = await rssOf(pid);
  let rssPeak = rssConnected;
  const sampler = setInterval(() => {
    rssOf(pid).then(
      (rss) => {
        rssPeak = Math.max(rssPeak, rss);
      },
      () => {},
    );
  }, 250);
  const cpuBefore = await cpuMsOf(pid);
  const customers = catalogue.customerIds;
  const mutation = (i: number) =>
    JSON.stringify({
      query:
        'mutation($input: CreateOrderInput!) { createOrder(input: $input) { ... on OrderPayload { order { id } } } }',
      variables: {
        input: {
          customerId: customers[i % customers.length],
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
  for (let i = 0; i < run.rate * run.seconds; i++) {
    const due = started + (i * 1000) / run.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      post(parallax.port, writeAgent, mutation(i), admin).then(
        (response) => {
          const id = /"id":"([0-9a-f-]{36})"/.exec(response)?.[1];
          // The acknowledgement time is taken as the commit time (an upper bound on it).
          if (id) acknowledged.set(id, wall());
          else writeErrors += 1;
        },
        () => {
          writeErrors += 1;
        },
      ),
    );
  }
  await Promise.all(inflight);
  await new Promise((r) => setTimeout(r, smoke ? 1000 : 3000));
  const rssAfter = await rssOf(pid);
  clearInterval(sampler);
  const cpuMs = (await cpuMsOf(pid)) - cpuBefore;
  const latencies: number[] = [];
  let frames = 0;
  for (const { child } of clients) {
    const r = await report(child);
    frames += r.frames;
    for (const [id, times] of Object.entries(r.received)) {
      const at = acknowledged.get(id);
      if (at !== undefined) for (const t of times) latencies.push(t - at);
    }
  }
  const stalledEnd = stalled ? (await report(stalled.child)).stalled[0] : undefined;
  writeAgent.destroy();
  const serverSide = await deliveryHistogram(parallax.port);
  await parallax.stop();
  // admin: every change to every subscriber; customers: each change to its customer's one subscriber.
  const expected = run.scope === 'admin' ? acknowledged.size * run.subscribers : acknowledged.size;
  const perSubscriberKB = (rss: number) => round2((rss - rssBefore) / run.subscribers / 1024);
  return {
    loadGenerator: `${run.subscribers} ${run.transport === 'ws' ? 'graphql-ws' : 'SSE (graphql-sse over HTTP/1.1)'} subscribers (${run.scope === 'admin' ? 'one admin list each' : 'each customer on its own list'}) in ${run.clientProcesses} child process(es)${run.wide ? `, plus one SSE subscriber on a wide document (~15 KB a change) that ${run.wide === 'stalled' ? 'never reads' : 'reads'}, in its own process` : ''}; ${run.rate} createOrder/s over HTTP for ${run.seconds} s; service ROLE=all, in-process bus`,
    subscribers: run.subscribers,
    connected,
    connectSeconds,
    changes: acknowledged.size,
    writeErrors,
    delivered: latencies.length,
    framesReceived: frames,
    expected,
    complete: latencies.length === expected && connected === run.subscribers + (stalled ? 1 : 0),
    latencyMs: summarize(latencies),
    // The engine's own part, from the service's metrics: batch commit (at the projector)
    // → written to the last subscriber of a group; bucket upper bounds.
    commitToWriteMs: serverSide,
    rssMB: {
      before: round2(rssBefore / 2 ** 20),
      connected: round2(rssConnected / 2 ** 20),
      peakDuringRun: round2(Math.max(rssPeak, rssAfter) / 2 ** 20),
    },
    rssPerSubscriberKB: {
      connectedIdle: perSubscriberKB(rssConnected),
      peak: perSubscriberKB(Math.max(rssPeak, rssAfter)),
    },
    serviceCpu: {
      seconds: round2(cpuMs / 1000),
      perChangeMicroseconds: round2((cpuMs * 1000) / Math.max(1, acknowledged.size)),
      perDeliveryMicroseconds: round2((cpuMs * 1000) / Math.max(1, latencies.length)),
    },
    ...(stalledEnd ? { stalledSubscriber: stalledEnd } : {}),
  };
}

const NOTE =
  'latency: from the mutation answer at the writer (an upper bound on commit) to the frame at the subscriber, projection lag included; RSS per subscriber: (service RSS − RSS before any subscriber) / subscribers, connected and idle, and at its peak (sampled every 250 ms); service CPU: user + system time of the service process from the first change until 3 s after the last (the commands themselves included), per change and per delivery';

export const fanOutBenchmark: Benchmark = {
  name: 'fan-out',
  description:
    'SSE subscribers on orderListChanged (admin, unfiltered; clients in child processes), 10 changes/s: commit → client, memory per subscriber, CPU per delivery',
  async run({ server, smoke }) {
    const subscribers = smoke ? 50 : Number(process.env.BENCH_FANOUT_SUBSCRIBERS ?? 5000);
    const r = await runLive(
      {
        transport: 'sse',
        subscribers,
        scope: 'admin',
        rate: 10,
        seconds: smoke ? 2 : 10,
        clientProcesses: smoke ? 1 : 2,
      },
      smoke,
      server,
    );
    const { p50, p99 } = r.latencyMs;
    return {
      ...r,
      note: NOTE,
      summary: [
        {
          row: 'fan-out',
          figure: `${subscribers} SSE subscribers: commit → client p50 ${p50} ms, p99 ${p99} ms; ${r.delivered}/${r.expected} delivered`,
          baseline: null,
          ratio: null,
          goal: 'p99 ≤ 100 ms, every change delivered',
          met: r.complete && p99 <= 100,
          load: r.loadGenerator,
        },
        {
          row: 'memory',
          figure: `${r.rssPerSubscriberKB.connectedIdle} KB RSS per idle subscriber at ${subscribers} (${r.rssPerSubscriberKB.peak} KB at the run's peak)`,
          baseline: null,
          ratio: null,
          goal: '≤ 10 KB per idle subscriber (at 5,000)',
          met: r.rssPerSubscriberKB.connectedIdle <= 10,
          load: r.loadGenerator,
        },
        {
          row: 'cpu per delivery',
          figure: `${r.serviceCpu.perDeliveryMicroseconds} µs of service CPU per delivery (${r.serviceCpu.seconds} s over ${r.delivered} deliveries, commands included)`,
          baseline: null,
          ratio: null,
          goal: '≤ 10 µs',
          met: r.serviceCpu.perDeliveryMicroseconds <= 10,
          load: r.loadGenerator,
        },
      ],
    };
  },
};

export const fanOutWsBenchmark: Benchmark = {
  name: 'fan-out-ws',
  description: 'graphql-ws subscribers on orderListChanged (admin, unfiltered), 10 changes/s: commit → client',
  async run({ server, smoke }) {
    const subscribers = smoke ? 50 : 1000;
    const r = await runLive(
      { transport: 'ws', subscribers, scope: 'admin', rate: 10, seconds: smoke ? 2 : 10, clientProcesses: 1 },
      smoke,
      server,
    );
    const { p50, p99 } = r.latencyMs;
    return {
      ...r,
      note: NOTE,
      summary: [
        {
          row: 'fan-out-ws',
          figure: `${subscribers} graphql-ws subscribers: commit → client p50 ${p50} ms, p99 ${p99} ms; ${r.delivered}/${r.expected} delivered; ${r.serviceCpu.perDeliveryMicroseconds} µs CPU per delivery`,
          baseline: null,
          ratio: null,
          goal: 'p99 ≤ 100 ms, every change delivered',
          met: r.complete && p99 <= 100,
          load: r.loadGenerator,
        },
      ],
    };
  },
};

export const filteredBenchmark: Benchmark = {
  name: 'filtered',
  description:
    'customers each subscribed to its own list, 200 changes/s spread over them, at 1,000 and 5,000 subscribers: commit → client, CPU per change',
  async run({ server, smoke }) {
    const counts = smoke ? [20, 50] : [1000, 5000];
    const rate = smoke ? 20 : 200;
    const runs = [];
    for (const subscribers of counts) {
      runs.push(
        await runLive(
          {
            transport: 'sse',
            subscribers,
            scope: 'customers',
            rate,
            seconds: smoke ? 2 : 10,
            clientProcesses: smoke ? 1 : 2,
          },
          smoke,
          server,
        ),
      );
    }
    const [small, large] = runs as [(typeof runs)[0], (typeof runs)[0]];
    const cpuRatio = round2(
      large.serviceCpu.perChangeMicroseconds / Math.max(1, small.serviceCpu.perChangeMicroseconds),
    );
    return {
      runs: Object.fromEntries(runs.map((r) => [String(r.subscribers), r])),
      note: NOTE,
      summary: [
        {
          row: 'filtered',
          figure: `${large.subscribers} customers on their own lists, ${rate} changes/s: commit → client p50 ${large.latencyMs.p50} ms, p99 ${large.latencyMs.p99} ms (at ${small.subscribers}: p99 ${small.latencyMs.p99} ms); CPU per change ${small.serviceCpu.perChangeMicroseconds} µs at ${small.subscribers}, ${large.serviceCpu.perChangeMicroseconds} µs at ${large.subscribers} (commands included)`,
          baseline: `CPU per change at ${small.subscribers} subscribers`,
          ratio: cpuRatio,
          goal: 'p99 ≤ 50 ms; CPU per change independent of the subscriber count',
          met: large.complete && small.complete && large.latencyMs.p99 <= 50 && cpuRatio <= 1.2,
          load: large.loadGenerator,
        },
      ],
    };
  },
};

export const isolationBenchmark: Benchmark = {
  name: 'isolation',
  description:
    '1,000 SSE subscribers at 50 changes/s plus one on a wide document, reading and then stalled: the others’ p99, the service’s RSS, the stalled one’s end',
  async run({ server, smoke }) {
    const run: LiveRun = {
      transport: 'sse',
      subscribers: smoke ? 50 : 1000,
      scope: 'admin',
      rate: smoke ? 20 : 50,
      seconds: smoke ? 3 : 15,
      clientProcesses: 1,
    };
    const alone = await runLive({ ...run, wide: 'reading' }, smoke, server);
    const withStalled = await runLive({ ...run, wide: 'stalled' }, smoke, server);
    const p99Ratio = round2(withStalled.latencyMs.p99 / Math.max(0.01, alone.latencyMs.p99));
    const rssGrowthMB = round2(withStalled.rssMB.peakDuringRun - alone.rssMB.peakDuringRun);
    const end = withStalled.stalledSubscriber;
    const endedRight = end?.code === 'SLOW_CONSUMER' && typeof end.resumeAfter === 'string';
    return {
      alone,
      withStalled,
      note: `${NOTE}; the run to compare with has the same wide subscriber reading; RSS growth: peak RSS of the run with it stalled minus the run with it reading`,
      summary: [
        {
          row: 'isolation',
          figure: `others' p99 ${withStalled.latencyMs.p99} ms with one subscriber stalled vs ${alone.latencyMs.p99} ms with it reading; RSS growth ${rssGrowthMB} MB; the stalled one ended with ${end?.code ?? 'nothing'}${end?.resumeAfter ? ' and a resume position' : ''} after ${end?.framesRead ?? 0} frames`,
          baseline: `the same run with that subscriber reading: p99 ${alone.latencyMs.p99} ms`,
          ratio: p99Ratio,
          goal: 'p99 within 10% of the run without it; RSS growth ≤ 10 MB; SLOW_CONSUMER with a resume position',
          met: withStalled.complete && p99Ratio <= 1.1 && rssGrowthMB <= 10 && endedRight,
          load: withStalled.loadGenerator,
        },
      ],
    };
  },
};
