// While Redis is away the Redis bus keeps at most PUBLISH_BUFFER_MESSAGES /
// PUBLISH_BUFFER_BYTES for later (ioredis' own offline queue holds nothing), sends a
// gap-free prefix when Redis is back, and never sends a buffered row of a customer
// erased meanwhile. Redis is the real one, reached through a TCP relay the test opens
// and closes.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHANNELS } from '../../src/bus/bus.ts';
import { createRedisBus, type RedisBus } from '../../src/bus/redis.ts';
import { loadConfig } from '../../src/config.ts';
import { freePort } from '../../src/db/embedded.ts';
import { erasedAmong } from '../../src/write/customer/erasure.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { EraseCustomer } from '../support/documents.ts';
import { givenCustomer } from '../support/fixtures.ts';
import { until } from '../support/projections.ts';

/** A TCP relay to the test Redis that can be opened and shut: Redis "away" and "back". */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async shut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}

const quiet = pino({ level: 'silent' });
const NAMESPACE = `parallax:publish-buffer-${process.pid}`;
let t: TestApp;
let relay: Relay;
let bus: RedisBus | undefined;
let listener: Redis | undefined;

beforeAll(async () => {
  t = await createTestApp();
  const target = new URL(inject('redisUrl'));
  relay = new Relay(await freePort(), { host: target.hostname, port: Number(target.port || 6379) });
});
afterEach(async () => {
  await bus?.close();
  listener?.disconnect();
  await relay.shut();
  bus = undefined;
  listener = undefined;
});
afterAll(async () => t.close());

function change(customerId: string, name: string | null, i: number) {
  return {
    projection: 'order_list_view',
    position: `p${i}`,
    key: `order-${i}`,
    row: { order_id: `order-${i}`, customer_id: customerId, customer_name: name, customer_email: null },
  };
}

/** Everything published on the bus's channels, as the real Redis delivers it. */
async function listen(): Promise<unknown[]> {
  const received: unknown[] = [];
  listener = new Redis(inject('redisUrl'));
  await listener.psubscribe(`${NAMESPACE}:*`);
  listener.on('pmessage', (_pattern, _channel, text) => received.push(JSON.parse(text)));
  return received;
}

describe('the publish buffer while Redis is away', () => {
  it('stays within its count and byte limits, with nothing in the ioredis offline queue (finding 3)', async () => {
    bus = createRedisBus(`redis://127.0.0.1:${relay.port}`, quiet, NAMESPACE, {
      buffer: { maxMessages: 1_000, maxBytes: 64 * 1024 },
      erasedAmong: (ids) => erasedAmong(t.pool, ids),
    });
    const row = { customer_name: 'Ada Lovelace', customer_email: 'ada@example.com', note: 'x'.repeat(200) };
    for (let i = 0; i < 50_000; i++) {
      await bus.publish(CHANNELS.readModelChanges, {
        projection: 'order_list_view',
        position: `p${i}`,
        key: `${i}`,
        row,
      });
    }
    const stats = bus.publishBuffer();
    expect(stats.messages).toBeLessThanOrEqual(1_000);
    expect(stats.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.messages).toBeGreaterThan(0);
    expect(stats.dropped).toBe(50_000 - stats.messages);
    expect(stats.clientQueue).toBe(0);
  });

  it('sends the buffered prefix in order once Redis is back, then publishes live again', async () => {
    bus = createRedisBus(`redis://127.0.0.1:${relay.port}`, quiet, NAMESPACE, {
      buffer: { maxMessages: 3, maxBytes: 1_000_000 },
      erasedAmong: (ids) => erasedAmong(t.pool, ids),
    });
    for (let i = 1; i <= 5; i++)
      await bus.publish(CHANNELS.positions, { projection: 'order_list_view', position: `p${i}` });
    expect(bus.publishBuffer()).toMatchObject({ messages: 3, dropped: 2 });
    const received = await listen();
    await relay.open();
    await until('the buffer to be sent', async () => (bus!.publishBuffer().messages === 0 ? true : undefined));
    await bus.publish(CHANNELS.positions, { projection: 'order_list_view', position: 'p6' });
    await until('p6 to arrive', async () => (received.length === 4 ? true : undefined));
    // p4 and p5 were dropped: a listener sees p6 follow p3 and re-reads the gap from its position.
    expect(received.map((m) => (m as { position: string }).position)).toEqual(['p1', 'p2', 'p3', 'p6']);
    expect(bus.publishBuffer()).toMatchObject({ messages: 0, dropped: 0 });
  });

  it('never sends a buffered row of a customer erased while Redis was away (finding 3)', async () => {
    const erased = await givenCustomer(t, { name: 'Hypatia Buffered', email: 'hypatia@buffered.example' });
    const kept = await givenCustomer(t);
    bus = createRedisBus(`redis://127.0.0.1:${relay.port}`, quiet, NAMESPACE, {
      buffer: { maxMessages: 100, maxBytes: 1_000_000 },
      erasedAmong: (ids) => erasedAmong(t.pool, ids),
    });
    await bus.publish(CHANNELS.readModelChanges, change(kept.id, kept.name, 1));
    await bus.publish(CHANNELS.positions, { projection: 'order_list_view', position: 'p1' });
    await bus.publish(CHANNELS.readModelChanges, change(erased.id, 'Hypatia Buffered', 2));
    await bus.publish(CHANNELS.readModelChanges, change(kept.id, kept.name, 3));
    await bus.publish(CHANNELS.positions, { projection: 'order_list_view', position: 'p3' });
    const res = await t.gql(EraseCustomer, { input: { customerId: erased.id } });
    expect(res.data?.eraseCustomer.__typename).toBe('CustomerPayload');

    const received = await listen();
    await relay.open();
    // Live messages again: one sent while the buffer is still going out is dropped with
    // its tail (the gap-free rule), so publish until one arrives after it.
    await until('a live message after the buffer', async () => {
      await bus!.publish(CHANNELS.positions, { projection: 'order_list_view', position: 'p4' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      return received.some((m) => (m as { position: string }).position === 'p4') ? true : undefined;
    });
    expect(JSON.stringify(received)).not.toContain('Hypatia');
    expect(JSON.stringify(received)).not.toContain(erased.id);
    // The prefix before the erased customer's row went out; from that row on the buffer was dropped.
    const positions = received.map((m) => (m as { position: string }).position);
    expect(positions.slice(0, 2)).toEqual(['p1', 'p1']);
    expect(new Set(positions.slice(2))).toEqual(new Set(['p4']));
  });

  it('reads PUBLISH_BUFFER_MESSAGES and PUBLISH_BUFFER_BYTES', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).publishBuffer).toEqual({ maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 });
    expect(
      loadConfig({ NODE_ENV: 'test', PUBLISH_BUFFER_MESSAGES: '50', PUBLISH_BUFFER_BYTES: '4096' }).publishBuffer,
    ).toEqual({ maxMessages: 50, maxBytes: 4096 });
    expect(() => loadConfig({ NODE_ENV: 'test', PUBLISH_BUFFER_MESSAGES: 'lots' })).toThrow(/PUBLISH_BUFFER_MESSAGES/);
  });
});
