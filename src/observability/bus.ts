// Counts failed bus publishes. The bus carries only after-commit notifications, so a
// failure never loses data (subscribers resume from positions) but it does delay
// subscribers: operators need to see it.
import type { Bus } from '../bus/bus.ts';
import type { Metrics } from './metrics.ts';

export function instrumentBus(bus: Bus, metrics: Metrics): Bus {
  return {
    async publish(channel, message) {
      try {
        await bus.publish(channel, message);
      } catch (error) {
        metrics.busPublishFailures.inc({ channel });
        throw error;
      }
    },
    subscribe: (channel, handler) => bus.subscribe(channel, handler),
    ...(bus.onConnectionChange
      ? { onConnectionChange: (handler: (state: 'lost' | 'restored') => void) => bus.onConnectionChange!(handler) }
      : {}),
    close: () => bus.close(),
  };
}
