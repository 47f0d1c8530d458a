// The outbox relay against the real NATS server: every outbox event reaches a durable
// JetStream consumer exactly once, in version order per aggregate; NATS going away
// holds up no command, shows as lag and loses nothing; replay re-publishes a range
// with the same message ids.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { encodePosition, ZERO_POSITION } from '../../src/outbox/position.ts';
import { HEADERS, headersOf, subjectOf } from '../../src/relay/message.ts';
import type { OutboxRelay } from '../../src/relay/relay.ts';
import { replayRange } from '../../src/relay/replay.ts';
import { relayStatuses } from '../../src/relay/status.ts';
import { createRelay } from '../../src/runtime.ts';
import { createCustomer, eraseCustomer, renameCustomer } from '../../src/write/customer/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import {
  consumeAll,
  deleteStream,
  natsConnect,
  PrivateNatsServer,
  relayEnv,
  streamMessageCount,
  uniqueRelayConfig,
} from '../support/nats.ts';
import { until } from '../support/projections.ts';
import { expectEveryEventOnceInAggregateOrder, outboxEntries, relayCaughtUp } from '../support/relay.ts';
import { adminContext, type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

const execFileAsync = promisify(execFile);

describe('outbox relay to NATS JetStream', () => {
  let t: TestApp;
  let nc: NatsConnection;
  let catalogue: Catalogue;
  const config = uniqueRelayConfig();
  let relay: OutboxRelay;

  beforeAll(async () => {
    nc = await natsConnect();
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 6, 8);
    relay = createRelay(t.app, t.databaseUrl, { config, leaseMs: 2000, pollMs: 200 })!;
    t.app.relay = relay;
    await relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await t?.close();
    await deleteStream(nc, config.stream);
    await nc?.close();
  });

  it('delivers every event of 8 concurrent writers to a durable consumer exactly once, in order per aggregate', async () => {
    const result = await runWorkload(t.app, catalogue, { writers: 8, commandsPerWriter: 60 });
    expect(result.acknowledged).toBeGreaterThan(300);
    await relayCaughtUp(t.pool);
    const outbox = await outboxEntries(t.pool);
    const received = await consumeAll(nc, config.stream, outbox.length, 'billing');
    await expectEveryEventOnceInAggregateOrder(t.pool, received, config.subjectPrefix);
    expect(await streamMessageCount(nc, config.stream)).toBe(outbox.length);
    const types = new Set(received.map((m) => m.eventType));
    for (const type of ['CustomerCreated', 'ProductCreated', 'OrderCreated', 'OrderStatusChanged']) {
      expect(types.has(type), type).toBe(true);
    }
    const [status] = await relayStatuses(t.pool);
    expect(status).toMatchObject({ name: 'nats', lagEvents: 0, eventsPublished: outbox.length, owner: relay.owner });
  });

  it('re-publishes a range with the same message ids: dropped while JetStream still has them, stored again into a stream that lost them', async () => {
    const outbox = await outboxEntries(t.pool);
    const from = { txId: BigInt(outbox[10]!.tx_id), seq: BigInt(outbox[10]!.seq) };
    const again = await replayRange(t.pool, config, from);
    expect(again).toMatchObject({ events: outbox.length - 10, stored: 0, duplicates: outbox.length - 10 });
    expect(await streamMessageCount(nc, config.stream)).toBe(outbox.length);
    // A stream that was lost (deleted here; replay creates it again) gets them back, in order per aggregate.
    await (await jetstreamManager(nc)).streams.delete(config.stream);
    const restored = await replayRange(t.pool, config, ZERO_POSITION);
    expect(restored).toMatchObject({ events: outbox.length, stored: outbox.length, duplicates: 0 });
    const received = await consumeAll(nc, config.stream, outbox.length);
    await expectEveryEventOnceInAggregateOrder(t.pool, received, config.subjectPrefix);
  });

  it('shows position, lag and owner in the relays query, in /metrics and in the CLI', async () => {
    const outbox = await outboxEntries(t.pool);
    for (const token of [t.adminToken, t.supportToken]) {
      const { json } = await t.request(
        { query: '{ relays { name position lagEvents lagMs eventsPublished owner lastError } }' },
        { authorization: `Bearer ${token}` },
      );
      expect(json.errors).toBeUndefined();
      expect((json.data as { relays: unknown[] }).relays).toEqual([
        {
          name: 'nats',
          position: encodePosition({ txId: BigInt(outbox.at(-1)!.tx_id), seq: BigInt(outbox.at(-1)!.seq) }),
          lagEvents: 0,
          lagMs: 0,
          eventsPublished: expect.any(Number),
          owner: relay.owner,
          lastError: null,
        },
      ]);
    }
    const scrape = (await t.app.metrics.render()).body;
    expect(scrape).toContain('parallax_relay_lag_events{relay="nats"} 0');
    expect(scrape).toContain('parallax_relay_lag_seconds{relay="nats"} 0');
    expect(scrape).toMatch(/parallax_relay_messages_stored_total\{relay="nats"\} [1-9]/);

    const env = { ...process.env, ...t.databaseEnv, ...relayEnv(config) };
    const status = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', 'relay', 'status'], {
      env,
    });
    expect(status.stdout).toContain(`run by ${relay.owner}`);
    expect(status.stdout).toContain('lag 0 events');
    const from = encodePosition({ txId: BigInt(outbox[5]!.tx_id), seq: BigInt(outbox[5]!.seq) });
    const replay = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'scripts/cli.ts', 'relay', 'replay', '--from', from],
      { env },
    );
    expect(replay.stdout).toContain(`replayed ${outbox.length - 5} events`);
    const refused = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'scripts/cli.ts', 'relay', 'replay', '--from', 'not-a-token'],
      { env },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('is not a position token') });
  });

  it('sends the documented subject and headers, with the W3C trace context of the command', () => {
    const event = {
      aggregateType: 'Order' as const,
      aggregateId: '3f2b8c1e-0000-4000-8000-000000000001',
      aggregateVersion: 3,
      event: { type: 'OrderCancelled', data: { orderId: '3f2b8c1e-0000-4000-8000-000000000001', from: 'PENDING' } },
      position: { txId: 812n, seq: 40n },
      eventId: '9a1d6a53-0000-4000-8000-000000000002',
      schemaVersion: 1,
      occurredAt: new Date('2026-01-02T03:04:05.000Z'),
      actor: 'admin',
      traceContext: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'v=1' },
    } as Parameters<typeof headersOf>[0];
    expect(subjectOf('parallax.events', event)).toBe(
      'parallax.events.Order.3f2b8c1e-0000-4000-8000-000000000001.OrderCancelled',
    );
    const h = headersOf(event);
    expect(h.get(HEADERS.eventId)).toBe(event.eventId);
    expect(h.get(HEADERS.position)).toBe(encodePosition(event.position));
    expect(h.get(HEADERS.aggregateVersion)).toBe('3');
    expect(h.get(HEADERS.schemaVersion)).toBe('1');
    expect(h.get('traceparent')).toBe(event.traceContext!.traceparent);
    expect(h.get('tracestate')).toBe('v=1');
  });
});

describe('the relay while NATS restarts', () => {
  let t: TestApp;
  let server: PrivateNatsServer;
  let catalogue: Catalogue;
  let relay: OutboxRelay;
  let config: ReturnType<typeof uniqueRelayConfig>;

  beforeAll(async () => {
    server = await PrivateNatsServer.start();
    config = uniqueRelayConfig(server.url);
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 4, 6);
    relay = createRelay(t.app, t.databaseUrl, { config, leaseMs: 2000, pollMs: 200 })!;
    t.app.relay = relay;
    await relay.start();
  });
  afterAll(async () => {
    await relay?.stop();
    await t?.close();
    await server?.close();
  });

  it('keeps commands flowing, shows the growing lag, then publishes everything once NATS is back', async () => {
    let writing = true;
    const writers = runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 100_000, stop: () => !writing });
    try {
      await until('the relay to publish', async () => ((await relayStatuses(t.pool))[0]?.eventsPublished ?? 0) > 50);
      await server.down();
      const outboxAtStop = (await outboxEntries(t.pool)).length;
      // Commands go on without NATS; the lag grows and says why.
      const lagging = await until('the lag to grow while NATS is down', async () => {
        const [s] = await relayStatuses(t.pool);
        const rows = (await outboxEntries(t.pool)).length;
        return s && rows > outboxAtStop + 100 && s.lagEvents > 100 && s.lastError ? s : undefined;
      });
      expect(lagging.lagMs).toBeGreaterThan(0);
      const scrape = await (await t.app.metrics.render()).body;
      expect(scrape).toMatch(/parallax_relay_lag_events\{relay="nats"\} [1-9]/);
      await server.up();
    } finally {
      writing = false;
      await writers;
    }
    await relayCaughtUp(t.pool);
    const [status] = await relayStatuses(t.pool);
    expect(status).toMatchObject({ lagEvents: 0, lastError: null });
    const nc = await natsConnect(server.url);
    try {
      const outbox = await outboxEntries(t.pool);
      const received = await consumeAll(nc, config.stream, outbox.length);
      await expectEveryEventOnceInAggregateOrder(t.pool, received, config.subjectPrefix);
    } finally {
      await nc.close();
    }
  });
});

describe('the relay and GDPR erasure', () => {
  let t: TestApp;
  let nc: NatsConnection;
  const config = uniqueRelayConfig();
  let relay: OutboxRelay | undefined;
  beforeAll(async () => {
    nc = await natsConnect();
    t = await createTestApp();
  });
  afterAll(async () => {
    await relay?.stop();
    await t?.close();
    await deleteStream(nc, config.stream);
    await nc?.close();
  });

  it('publishes the scrubbed payloads of events erased before the relay reached them', async () => {
    const ctx = adminContext(t.app);
    const erased = await createCustomer(ctx, { name: 'Ada Forgotten', email: 'ada.forgotten@example.com' });
    await renameCustomer(ctx, { customerId: erased.customerId, name: 'Ada Renamed' });
    const kept = await createCustomer(ctx, { name: 'Bob Kept', email: 'bob.kept@example.com' });
    await eraseCustomer(ctx, { customerId: erased.customerId });
    relay = createRelay(t.app, t.databaseUrl, { config, leaseMs: 2000, pollMs: 200 })!;
    await relay.start();
    await relayCaughtUp(t.pool);
    const outbox = await outboxEntries(t.pool);
    const received = await consumeAll(nc, config.stream, outbox.length);
    const text = JSON.stringify(received.map((m) => m.data));
    expect(text).not.toContain('Ada');
    expect(text).not.toContain('ada.forgotten');
    expect(text).toContain('Bob Kept');
    const types = received.filter((m) => m.aggregateId === erased.customerId).map((m) => m.eventType);
    expect(types).toEqual(['CustomerCreated', 'CustomerRenamed', 'CustomerErased']);
    expect(received.find((m) => m.aggregateId === kept.customerId)?.data).toMatchObject({ name: 'Bob Kept' });
  });
});

describe('relay configuration', () => {
  it('is off without NATS_URL and rejects a bad stream name, subject prefix or duplicate window', () => {
    expect(loadConfig({}).relay).toBeUndefined();
    expect(loadConfig({ NATS_URL: 'nats://127.0.0.1:4222' }).relay).toMatchObject({
      stream: 'PARALLAX_EVENTS',
      subjectPrefix: 'parallax.events',
    });
    expect(() => loadConfig({ NATS_URL: 'nats://x', NATS_STREAM: 'my.stream' })).toThrow(ConfigError);
    expect(() => loadConfig({ NATS_URL: 'nats://x', NATS_SUBJECT_PREFIX: 'events.>' })).toThrow(/NATS_SUBJECT_PREFIX/);
    expect(() => loadConfig({ NATS_URL: 'nats://x', NATS_DUPLICATE_WINDOW_MS: '5000' })).toThrow(
      /NATS_DUPLICATE_WINDOW_MS/,
    );
    expect(() => loadConfig({ NATS_URL: 'nats://x', NATS_STREAM_STORAGE: 'disk' })).toThrow(ConfigError);
  });
});
