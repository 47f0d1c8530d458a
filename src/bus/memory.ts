import { EventEmitter } from 'node:events';
import type { Bus } from './bus.ts';

/** The bus of a single process (no REDIS_URL). Messages go through JSON like Redis's. */
export function createMemoryBus(): Bus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(channel, message) {
      // Nobody listens (a projector catching up with no subscriber in this process): no copy.
      if (emitter.listenerCount(channel) === 0) return;
      const copy = JSON.parse(JSON.stringify(message));
      emitter.emit(channel, copy);
    },
    async subscribe(channel, handler) {
      emitter.on(channel, handler);
      return () => {
        emitter.off(channel, handler);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}
