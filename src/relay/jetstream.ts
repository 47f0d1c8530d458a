// The relay's side of NATS: one connection that reconnects forever, the stream
// (created or updated to the configured limits at start), and publishing a batch with
// per-aggregate order.
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { RelayConfig } from '../config.ts';
import type { StoredEvent } from '../outbox/append.ts';
import { bodyOf, headersOf, subjectOf } from './message.ts';

export interface JetStreamLink {
  nc: NatsConnection;
  js: JetStreamClient;
  close(): Promise<void>;
}

/** Connects to NATS (rejects when no server answers; the relay retries with backoff). */
export async function connectJetStream(config: RelayConfig, name: string): Promise<JetStreamLink> {
  const nc = await connect({
    servers: config.natsUrl.split(',').map((s) => s.trim()),
    name,
    // Never give up: while NATS is away the relay waits, its lag grows, nothing is skipped.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
    // Without it the client builds an Error (with its stack) for every publish's request
    // and timeout, in case one fails: ~10% of the relay's CPU and much of its garbage.
    noAsyncTraces: true,
  });
  return {
    nc,
    js: jetstream(nc, { timeout: 5_000 }),
    close: async () => {
      await nc.close().catch(() => {});
    },
  };
}

export function streamConfig(config: RelayConfig): StreamConfig {
  return {
    name: config.stream,
    subjects: [`${config.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: config.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: config.replicas,
    duplicate_window: nanos(config.duplicateWindowMs),
    max_age: nanos(config.maxAgeMs),
    max_bytes: config.maxBytes || -1,
    max_msgs: config.maxMsgs || -1,
  } as StreamConfig;
}

/** Creates the stream, or updates an existing one to the configured subjects and limits. */
export async function ensureStream(nc: NatsConnection, config: RelayConfig): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const wanted = streamConfig(config);
  try {
    await jsm.streams.info(config.stream);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(wanted);
      return;
    }
    throw error;
  }
  // Storage cannot change on an existing stream; everything else follows the configuration.
  const { name: _name, storage: _storage, ...update } = wanted;
  await jsm.streams.update(config.stream, update);
}

export interface PublishResult {
  /** Messages JetStream stored. */
  stored: number;
  /** Messages it dropped because their Nats-Msg-Id was already in the stream. */
  duplicates: number;
}

/**
 * Publishes events (in outbox order) and resolves once JetStream acknowledged every one.
 *
 * Order: the events of one aggregate go one at a time, each only after the previous
 * one's ack (stored or duplicate); different aggregates go concurrently. So event n+1
 * of an aggregate can reach the stream only after event n is in it, whoever publishes
 * it: a retry after a failure, a relay that took over from a dead one, or a paused one
 * that wakes up. Pipelining within an aggregate would not keep that: if n failed while
 * n+1 was stored, the retry would store n after n+1.
 *
 * Exactly once: msgID = event id, so a re-publish inside the duplicate window is
 * acknowledged as a duplicate and not stored again.
 *
 * On any failure it waits for every chain to settle, then rejects with the first error.
 */
export async function publishInOrder(
  js: JetStreamClient,
  prefix: string,
  events: readonly StoredEvent[],
  timeoutMs = 5_000,
): Promise<PublishResult> {
  const chains = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const key = `${e.aggregateType}:${e.aggregateId}`;
    const chain = chains.get(key);
    if (chain) chain.push(e);
    else chains.set(key, [e]);
  }
  const result: PublishResult = { stored: 0, duplicates: 0 };
  let failed = false;
  const settled = await Promise.allSettled(
    [...chains.values()].map(async (chain) => {
      for (const event of chain) {
        if (failed) return;
        try {
          const ack = await js.publish(subjectOf(prefix, event), bodyOf(event), {
            msgID: event.eventId,
            headers: headersOf(event),
            timeout: timeoutMs,
          });
          if (ack.duplicate) result.duplicates += 1;
          else result.stored += 1;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
  const rejected = settled.find((s) => s.status === 'rejected');
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
  return result;
}
