// The bus across processes: Redis pub/sub through graphql-redis-subscriptions.
// Redis pub/sub delivers at most once; a subscriber that misses messages while Redis
// is away catches up from positions (resumable subscriptions, the position watcher's
// own refresh), so an outage costs latency, never data.
//
// While the publisher is away, messages wait in a bounded buffer of our own (ioredis'
// offline queue is off for the publisher: it would grow without bound and keep every
// row it holds, names and emails included). Past PUBLISH_BUFFER_MESSAGES or
// PUBLISH_BUFFER_BYTES the buffer stops taking messages until it has been sent: the
// messages it kept are a gap-free prefix, and a listener sees the gap at the next
// position message (its `after` is not where the listener's chain ended) and re-reads
// from its position. Before the buffer is sent, every buffered message from the first
// one carrying a row of a customer erased meanwhile is dropped the same way (the whole
// buffer when that cannot be checked), so no queued row of an erased customer is ever
// sent.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { type Bus, CHANNELS } from './bus.ts';

export interface RedisBusOptions {
  /** What may wait while Redis is away (PUBLISH_BUFFER_MESSAGES, PUBLISH_BUFFER_BYTES). */
  buffer: { maxMessages: number; maxBytes: number };
  /** The customers among these that are erased (from the write model); checked before a buffer is sent. */
  erasedAmong?: (customerIds: string[]) => Promise<Set<string>>;
}

export interface PublishBufferStats {
  messages: number;
  bytes: number;
  /** Messages dropped since the buffer was last sent. */
  dropped: number;
  /** Commands ioredis itself holds for the publisher (always 0: its offline queue is off). */
  clientQueue: number;
}

export interface RedisBus extends Bus {
  publishBuffer(): PublishBufferStats;
}

const RETRY = (attempt: number) => Math.min(50 * 2 ** attempt, 2_000);

/** A connection for other uses (e.g. shared rate-limit counters): commands fail at once while Redis is away. */
export function createRedisClient(url: string, log: Logger, name: string): Redis {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: RETRY });
  client.on('error', (error) => log.warn({ err: error, client: name }, 'redis connection error'));
  return client;
}

interface Buffered {
  channel: string;
  message: unknown;
  bytes: number;
}

function customerOf(message: Buffered): string | undefined {
  if (!message.channel.endsWith(CHANNELS.readModelChanges)) return undefined;
  const id = (message.message as { row?: { customer_id?: unknown } } | null)?.row?.customer_id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * `namespace` keeps deployments that share one Redis apart (main.ts uses the database
 * name: processes on one database share one bus).
 */
export function createRedisBus(url: string, log: Logger, namespace: string, busOptions: RedisBusOptions): RedisBus {
  const subscriberOptions: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: RETRY, lazyConnect: false };
  const publisher = new Redis(url, {
    retryStrategy: RETRY,
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  const subscriber = new Redis(url, subscriberOptions);
  for (const [name, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    client.on('error', (error) => log.warn({ err: error, client: name }, 'redis connection error'));
  }
  const pubsub = new RedisPubSub({ publisher, subscriber });
  // After a lost connection ioredis subscribes to every channel again (before it emits
  // 'ready'); one more SUBSCRIBE round trip proves those are active, and only then are
  // streams told to re-read what they may have missed meanwhile.
  const listeners = new Set<(state: 'lost' | 'restored') => void>();
  const tell = (state: 'lost' | 'restored') => {
    for (const listener of listeners) listener(state);
  };
  let subscribedOnce = false;
  let down = false;
  subscriber.on('close', () => {
    if (!subscribedOnce || down) return;
    down = true;
    tell('lost');
  });
  subscriber.on('ready', () => {
    if (!subscribedOnce) {
      subscribedOnce = true;
      return;
    }
    subscriber
      .subscribe(`${namespace}:bus.resubscribed`)
      .then(() => {
        if (!down) return;
        down = false;
        log.info({ streams: listeners.size }, 'redis subscriber reconnected; streams re-read from their positions');
        tell('restored');
      })
      .catch((error) => log.warn({ err: error }, 'redis resubscribe failed'));
  });

  const { maxMessages, maxBytes } = busOptions.buffer;
  let buffer: Buffered[] = [];
  let bytes = 0;
  let dropped = 0;
  /** Set at the first drop: nothing more is buffered until the buffer has been sent. */
  let dropping = false;
  let flushing = false;

  const drop = (reason: string, count: number) => {
    if (!dropping)
      log.warn({ reason, buffered: buffer.length }, 'publish buffer dropping messages until Redis is back');
    dropping = true;
    dropped += count;
  };

  const truncate = (from: number, reason: string) => {
    const gone = buffer.slice(from);
    buffer = buffer.slice(0, from);
    bytes -= gone.reduce((n, m) => n + m.bytes, 0);
    if (gone.length) drop(reason, gone.length);
  };

  /** Drops, from the first one on, messages carrying a row of a customer erased since. */
  const screen = async () => {
    const ids = [...new Set(buffer.map(customerOf).filter((id): id is string => id !== undefined))];
    if (!ids.length) return;
    if (!busOptions.erasedAmong) {
      truncate(0, 'no erasure check');
      return;
    }
    try {
      const erased = await busOptions.erasedAmong(ids);
      const first = buffer.findIndex((m) => erased.has(customerOf(m) ?? ''));
      if (first >= 0) truncate(first, 'erased customer');
    } catch (error) {
      log.warn({ err: error }, 'cannot check buffered messages for erased customers; dropping them');
      truncate(0, 'erasure check failed');
    }
  };

  const flush = async () => {
    if (flushing) return;
    flushing = true;
    try {
      await screen();
      while (buffer.length && publisher.status === 'ready') {
        const next = buffer[0]!;
        try {
          await pubsub.publish(next.channel, next.message);
        } catch {
          break; // gone again: the rest waits for the next 'ready'
        }
        buffer.shift();
        bytes -= next.bytes;
      }
      if (!buffer.length && publisher.status === 'ready') {
        if (dropped) log.info({ dropped }, 'publish buffer sent; dropped messages are re-read from positions');
        dropping = false;
        dropped = 0;
      }
    } finally {
      flushing = false;
    }
    // Messages that arrived while the last send was in flight.
    if (buffer.length && publisher.status === 'ready') void flush();
  };
  publisher.on('ready', () => void flush());

  const enqueue = (channel: string, message: unknown) => {
    if (dropping) {
      dropped += 1;
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(message) ?? '');
    if (buffer.length + 1 > maxMessages || bytes + size > maxBytes) {
      drop('buffer full', 1);
      return;
    }
    buffer.push({ channel, message, bytes: size });
    bytes += size;
    if (publisher.status === 'ready') void flush();
  };

  return {
    async publish(channel, message) {
      const full = `${namespace}:${channel}`;
      if (publisher.status === 'ready' && !buffer.length && !flushing && !dropping) {
        await pubsub.publish(full, message);
        return;
      }
      // Redis is away (or the buffer is being sent, which keeps the order): the caller
      // (a projection batch that already committed) does not wait; subscribers that
      // miss a message re-read from their positions.
      enqueue(full, message);
    },
    publishBuffer() {
      const queue = (publisher as unknown as { offlineQueue?: { length: number } }).offlineQueue;
      return { messages: buffer.length, bytes, dropped, clientQueue: queue?.length ?? 0 };
    },
    async subscribe(channel, handler) {
      const id = await pubsub.subscribe(`${namespace}:${channel}`, handler);
      return () => pubsub.unsubscribe(id);
    },
    onConnectionChange(handler) {
      listeners.add(handler);
      return () => {
        listeners.delete(handler);
      };
    },
    async close() {
      listeners.clear();
      buffer = [];
      bytes = 0;
      // QUIT where connected; a client still waiting for Redis just stops trying (its
      // QUIT would be refused: the publisher has no offline queue).
      await Promise.all(
        [publisher, subscriber].map((client) =>
          client.status === 'ready'
            ? client.quit().then(
                () => undefined,
                () => client.disconnect(),
              )
            : client.disconnect(),
        ),
      );
    },
  };
}
