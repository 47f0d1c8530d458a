// Outbox relay benchmarks (NATS JetStream at NATS_URL, else 127.0.0.1:4222; each run
// its own stream, deleted afterwards).
//  latency:    commit → message available to a JetStream consumer, p50/p99, at 70% of
//              the maximum write rate (createOrder with 3 items, open loop).
//  throughput: events/s the relay publishes (acknowledged and checkpointed) from a
//              200,000-event backlog.
import { randomBytes, randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { RelayConfig } from '../src/config.ts';
import { money } from '../src/events/order.ts';
import type { StoredEvent } from '../src/outbox/append.ts';
import { bodyOf, HEADERS, headersOf, subjectOf } from '../src/relay/message.ts';
import type { OutboxRelay } from '../src/relay/relay.ts';
import { createRelay } from '../src/runtime.ts';
import { createOrder } from '../src/write/order/handle.ts';
import { adminContext, givenCatalogue } from '../test/support/workload.ts';
import { type Benchmark, type BenchServer, benchApp, closeApp, freshDatabase, round2, summarize } from './support.ts';
import { quickMaxWriteRate } from './write.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

function benchRelayConfig(): RelayConfig {
  const id = randomBytes(4).toString('hex');
  return {
    natsUrl: NATS_URL,
    stream: `PARALLAX_BENCH_${id}`,
    subjectPrefix: `pbench.${id}.events`,
    batchSize: 4000,
    duplicateWindowMs: 120_000,
    maxAgeMs: 0,
    maxBytes: 0,
    maxMsgs: 0,
    storage: 'file',
    replicas: 1,
  };
}

async function natsConnection(): Promise<NatsConnection> {
  try {
    // The relay's own client setting, so the baseline publishes the way the relay does.
    return await connect({ servers: NATS_URL, noAsyncTraces: true });
  } catch (error) {
    throw new Error(`the relay benchmark needs NATS with JetStream at ${NATS_URL} (set NATS_URL)`, { cause: error });
  }
}

export const relayBenchmark: Benchmark = {
  name: 'relay',
  description:
    'outbox relay to NATS JetStream: commit → message available to a consumer at 70% of the maximum write rate, and events/s from a 200,000-event backlog',
  async run(ctx) {
    const nc = await natsConnection();
    try {
      let max = ctx.shared.maxWriteRate;
      const measuredHere = max === undefined;
      if (max === undefined) max = await quickMaxWriteRate(ctx.server, ctx.smoke ? 0.5 : 4, ctx.smoke);
      const rate = Math.max(1, Math.round(max * 0.7));
      const latency = await latencyAt(ctx.server, nc, rate, ctx.smoke ? 2 : 15);
      const backlog = await throughput(ctx.server, nc, ctx.smoke ? 2_000 : 200_000);
      const raw = await rawPublishRate(nc, ctx.smoke ? 2_000 : 50_000);
      const { p50, p99 } = latency.commitToConsumerMs;
      return {
        maxWriteRate: max,
        maxWriteRateFrom: measuredHere ? 'quick measurement (16 clients)' : 'write benchmark, same run',
        ...latency,
        backlog,
        rawPublish: raw,
        summary: [
          {
            row: 'relay',
            figure: `commit → consumer p50 ${p50} ms, p99 ${p99} ms; backlog of ${backlog.events} events at ${backlog.eventsPerSecond} events/s`,
            baseline: `bare js.publish, same messages and headers, ${raw.inFlight} in flight: ${raw.messagesPerSecond} msg/s`,
            ratio: round2(backlog.eventsPerSecond / raw.messagesPerSecond),
            goal: 'p99 ≤ 50 ms; ≥ 20,000 events/s',
            met: p99 <= 50 && backlog.eventsPerSecond >= 20_000,
            load: `${latency.offeredLoad}; backlog: ${backlog.shape}`,
          },
        ],
      };
    } finally {
      await nc.close();
    }
  },
};

async function latencyAt(server: BenchServer, nc: NatsConnection, rate: number, seconds: number) {
  const app = benchApp(await freshDatabase(server));
  const config = benchRelayConfig();
  const catalogue = await givenCatalogue(app, 12, 20);
  const relay = startRelay(app, config);
  await relay.start();
  const jsm = await jetstreamManager(nc);
  await waitForStream(nc, config.stream);
  // An ordered consumer from the stream's start: what a service following the events sees.
  const consumer = await jetstream(nc).consumers.get(config.stream);
  const messages = await consumer.consume();
  const receivedAt = new Map<string, number>();
  const reading = (async () => {
    for await (const m of messages) {
      const token = m.headers?.get(HEADERS.position);
      if (token) receivedAt.set(token, performance.now());
    }
  })();
  const committedAt = new Map<string, number>();
  const ctx = adminContext(app);
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inflight.push(
      createOrder(ctx, {
        customerId: catalogue.customerIds[i % catalogue.customerIds.length]!,
        items: [0, 1, 2].map((k) => ({
          productId: catalogue.productIds[(i + k * 5) % catalogue.productIds.length]!,
          quantity: 1 + ((i + k) % 3),
        })),
      }).then((r) => {
        committedAt.set(r.position, performance.now());
      }),
    );
  }
  await Promise.all(inflight);
  for (let i = 0; i < 200 && [...committedAt.keys()].some((p) => !receivedAt.has(p)); i++) await sleep(50);
  messages.stop();
  await reading;
  // The message of a command's (last) event; a message can beat the command's own
  // promise callback, which counts as 0.
  const samples = [...committedAt].flatMap(([position, at]) => {
    const received = receivedAt.get(position);
    return received === undefined ? [] : [Math.max(0, received - at)];
  });
  const missing = committedAt.size - samples.length;
  await relay.stop();
  await jsm.streams.delete(config.stream);
  await closeApp(app);
  if (missing) throw new Error(`${missing} of ${committedAt.size} commands never reached the consumer`);
  return {
    offeredLoad: `${rate} createOrder/s (3 items) for ${seconds} s, open loop, in process (command handlers); relay in the same process, consumer: an ordered JetStream consumer`,
    commitToConsumerMs: summarize(samples),
  };
}

/**
 * The baseline: how fast this machine's NATS server takes the same messages (subject,
 * headers, body) from one client with no database and no ordering, 1,000 in flight.
 */
async function rawPublishRate(nc: NatsConnection, messages: number) {
  const config = benchRelayConfig();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: config.stream, subjects: [`${config.subjectPrefix}.>`] });
  const js = jetstream(nc);
  const inFlight = 1000;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < messages) {
        const i = next++;
        const event = syntheticEvent(i);
        await js.publish(subjectOf(config.subjectPrefix, event), bodyOf(event), {
          msgID: event.eventId,
          headers: headersOf(event),
        });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await jsm.streams.delete(config.stream);
  return { messages, inFlight, messagesPerSecond: Math.round(messages / seconds) };
}

function syntheticEvent(i: number): StoredEvent {
  const orderId = randomUUID();
  return {
    aggregateType: 'Order',
    aggregateId: orderId,
    aggregateVersion: 1 + (i % 4),
    event: {
      type: 'OrderCreated',
      data: {
        orderId,
        customerId: randomUUID(),
        total: money(4200),
        createdAt: new Date().toISOString(),
        items: [
          {
            lineNo: 1,
            productId: randomUUID(),
            sku: 'W-1',
            productName: 'Widget 1',
            quantity: 2,
            unitPrice: money(2100),
          },
        ],
      },
    },
    position: { txId: 1000n + BigInt(i), seq: BigInt(i) },
    eventId: randomUUID(),
    schemaVersion: 1,
    occurredAt: new Date(),
    actor: 'bench',
    traceContext: null,
  };
}

function startRelay(app: ReturnType<typeof benchApp>, config: RelayConfig): OutboxRelay {
  const relay = createRelay(app, app.config.databaseUrl!, { config, leaseMs: 5000, pollMs: 1000 })!;
  app.relay = relay;
  return relay;
}

async function waitForStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (let i = 0; i < 200; i++) {
    if (
      await jsm.streams.info(stream).then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(25);
  }
  throw new Error(`stream ${stream} was not created`);
}

/**
 * A backlog written straight into the outbox in one statement per 1,000 events (the
 * relay reads nothing else): orders of 4 events each (created, item added, two status
 * changes), the 4 events of an order next to each other, so a relay batch holds
 * chains of 4 that must go one after the other.
 */
async function throughput(server: BenchServer, nc: NatsConnection, events: number) {
  const app = benchApp(await freshDatabase(server), {}, 10);
  const config = benchRelayConfig();
  const perTransaction = 1000;
  for (let done = 0; done < events; done += perTransaction) {
    await app.pool.query(
      `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
       SELECT gen_random_uuid(), e.type, 'Order', o.id, e.version, 1,
              CASE e.type
                WHEN 'OrderItemAdded' THEN jsonb_build_object('orderId', o.id, 'totalCents', 4200 + e.version,
                  'item', jsonb_build_object('lineNo', 2, 'productId', o.product,
                    'sku', 'W-1', 'productName', 'Widget 1', 'quantity', 1, 'unitPriceCents', 2100))
                ELSE jsonb_build_object('orderId', o.id, 'customerId', o.customer, 'totalCents', 4200 + e.version,
                  'items', jsonb_build_array(jsonb_build_object('lineNo', 1, 'productId', o.product,
                    'sku', 'W-1', 'productName', 'Widget 1', 'quantity', 2, 'unitPriceCents', 2100)))
              END,
              'bench'
         FROM (SELECT gen_random_uuid() AS id, gen_random_uuid() AS customer, gen_random_uuid() AS product
                 FROM generate_series(1, $1::int / 4)) AS o
        CROSS JOIN (VALUES (1, 'OrderCreated'), (2, 'OrderItemAdded'), (3, 'OrderStatusChanged'), (4, 'OrderStatusChanged'))
              AS e(version, type)
        ORDER BY o.id, e.version`,
      [Math.min(perTransaction, events - done)],
    );
  }
  const total = Number((await app.pool.query('SELECT count(*) FROM outbox')).rows[0].count);
  const relay = startRelay(app, config);
  const t0 = performance.now();
  await relay.start();
  // A relay that keeps failing on an event (its last error) ends the benchmark instead of waiting forever.
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { rows } = await app.pool.query<{ n: number; last_error: string | null }>(
      `SELECT events_published::int AS n, last_error FROM relay_checkpoints WHERE name = 'nats'`,
    );
    if ((rows[0]?.n ?? 0) >= total) break;
    if (Date.now() > deadline) {
      throw new Error(`the relay did not publish the backlog in 300 s; last error: ${rows[0]?.last_error ?? 'none'}`);
    }
    await sleep(10);
  }
  const seconds = (performance.now() - t0) / 1000;
  await relay.stop();
  const stored = (await (await jetstreamManager(nc)).streams.info(config.stream)).state.messages;
  await (await jetstreamManager(nc)).streams.delete(config.stream);
  await closeApp(app);
  if (stored !== total) throw new Error(`stream holds ${stored} messages for ${total} outbox events`);
  return {
    events: total,
    seconds: round2(seconds),
    eventsPerSecond: Math.round(total / seconds),
    batchSize: config.batchSize,
    shape: `${total} events, orders of 4 events each (adjacent), relay batches of ${config.batchSize}, file storage`,
  };
}
