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
  return {
    async publish(channel, message) {
      await pubsub.publish(`${namespace}:${channel}`, message);
    },
    async subscribe(channel, handler) {
      const id = await pubsub.subscribe(`${namespace}:${channel}`, handler);
      return () => pubsub.unsubscribe(id);
    },
    async close() {
      await pubsub.close();
    },
  };
}
