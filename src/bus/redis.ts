// The bus across processes: Redis pub/sub through graphql-redis-subscriptions.
// Redis pub/sub delivers at most once; a subscriber that misses messages while Redis
// is away catches up from positions (resumable subscriptions, the position watcher's
// own refresh), so an outage costs latency, never data.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Bus } from './bus.ts';

/**
 * `namespace` keeps deployments that share one Redis apart (main.ts uses the database
 * name: processes on one database share one bus).
 */
export function createRedisBus(url: string, log: Logger, namespace: string): Bus {
  const options = {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
    lazyConnect: false,
  };
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
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
  return {
    async publish(channel, message) {
      const sent = pubsub.publish(`${namespace}:${channel}`, message);
      if (publisher.status === 'ready') {
        await sent;
        return;
      }
      // Redis is away: ioredis queues the message (in order) until it is back. The
      // caller (a projection batch that already committed) does not wait for that;
      // subscribers that miss it re-read from their positions on reconnect.
      sent.catch((error) => log.warn({ err: error, channel }, 'queued publish failed'));
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
      await pubsub.close();
    },
  };
}
