// NATS for the relay tests: the local server (NATS_URL, else 127.0.0.1:4222) with a
// stream and subject prefix of each test's own, so runs never collide; or a private
// nats-server on a free port with its own store, for tests that stop and restart it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { RelayConfig } from '../../src/config.ts';
import { freePort } from '../../src/db/embedded.ts';
import { HEADERS } from '../../src/relay/message.ts';
import { canConnect } from './net.ts';

export const SHARED_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A relay configuration with a stream and subject prefix no other run uses. */
export function uniqueRelayConfig(natsUrl = SHARED_NATS_URL, overrides: Partial<RelayConfig> = {}): RelayConfig {
  const id = `${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    natsUrl,
    stream: `PARALLAX_TEST_${id}`,
    subjectPrefix: `ptest.${id}.events`,
    batchSize: 200,
    duplicateWindowMs: 300_000,
    maxAgeMs: 0,
    maxBytes: 0,
    maxMsgs: 0,
    storage: 'file',
    replicas: 1,
    ...overrides,
  };
}

/** The same configuration as the environment of a Parallax process. */
export function relayEnv(config: RelayConfig): Record<string, string> {
  return {
    NATS_URL: config.natsUrl,
    NATS_STREAM: config.stream,
    NATS_SUBJECT_PREFIX: config.subjectPrefix,
    RELAY_BATCH_SIZE: String(config.batchSize),
    NATS_DUPLICATE_WINDOW_MS: String(config.duplicateWindowMs),
  };
}

export async function natsConnect(url = SHARED_NATS_URL): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  } catch (error) {
    throw new Error(
      `the relay tests need NATS with JetStream at ${url} (set NATS_URL, or run: nats-server -a 127.0.0.1 -p 4222 -js)`,
      { cause: error },
    );
  }
}

export async function streamMessageCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => {});
}

export interface ReceivedMessage {
  subject: string;
  eventId: string;
  msgId: string;
  position: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  schemaVersion: number;
  eventType: string;
  traceparent: string | null;
  data: unknown;
  streamSequence: number;
}

/**
 * Reads the whole stream with a durable pull consumer that acks every message, the way
 * the README's example consumer does, until `expected` messages arrived and the
 * consumer has nothing pending.
 */
export async function consumeAll(
  nc: NatsConnection,
  stream: string,
  expected: number,
  durable = `reader_${randomBytes(3).toString('hex')}`,
  timeoutMs = 60_000,
): Promise<ReceivedMessage[]> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const received: ReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
    for await (const m of batch) {
      const h = m.headers;
      received.push({
        subject: m.subject,
        eventId: h?.get(HEADERS.eventId) ?? '',
        msgId: h?.get('Nats-Msg-Id') ?? '',
        position: h?.get(HEADERS.position) ?? '',
        aggregateType: h?.get(HEADERS.aggregateType) ?? '',
        aggregateId: h?.get(HEADERS.aggregateId) ?? '',
        aggregateVersion: Number(h?.get(HEADERS.aggregateVersion)),
        schemaVersion: Number(h?.get(HEADERS.schemaVersion)),
        eventType: h?.get(HEADERS.eventType) ?? '',
        traceparent: h?.get(HEADERS.traceparent) || null,
        data: m.json(),
        streamSequence: m.seq,
      });
      m.ack();
    }
    const info = await consumer.info();
    if (received.length >= expected && info.num_pending === 0 && info.num_ack_pending === 0) break;
  }
  return received;
}

/** A nats-server of the test's own (free port, own store), which the test may stop and restart. */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(await freePort(), await mkdtemp(join(tmpdir(), 'parallax-nats-')));
    await server.up();
    return server;
  }

  async up(): Promise<void> {
    const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
    const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: 'ignore',
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin` },
    });
    const failed = new Promise<never>((_, reject) =>
      child.on('error', (error) => reject(new Error(`cannot start ${bin}: ${error.message}`))),
    );
    this.child = child;
    for (let i = 0; i < 100; i++) {
      if (await Promise.race([canConnect(this.port), failed])) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nats-server did not start on port ${this.port}`);
  }

  /** A clean shutdown (SIGTERM): JetStream flushes its store, as on a restart. */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  async close(): Promise<void> {
    await this.down();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
