// The relay's Prometheus series, on the process's registry (observability/metrics.ts).
// Counters and the batch histogram are recorded where the relay publishes; lag and
// position gauges are read from relay_checkpoints at scrape time (any role shows them),
// through the same status query as the `relays` GraphQL field.
import type pg from 'pg';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.ts';
import { type RelayStatus, relayStatuses } from './status.ts';

export interface RelayMetrics {
  stored: Counter<'relay'>;
  duplicates: Counter<'relay'>;
  failures: Counter<'relay'>;
  batchDuration: Histogram<'relay'>;
}

const registered = new WeakMap<Metrics, RelayMetrics>();

/** Registers the relay series once per Metrics instance and returns its recorders. */
export function relayMetrics(metrics: Metrics, pool: pg.Pool): RelayMetrics {
  const existing = registered.get(metrics);
  if (existing) return existing;
  const registers = [metrics.registry];
  let snapshot: Promise<RelayStatus[]> | undefined;
  // One database read per scrape, shared by the gauges collected in it.
  const scrape = () => {
    snapshot ??= relayStatuses(pool)
      .catch(() => [])
      .finally(() =>
        setImmediate(() => {
          snapshot = undefined;
        }),
      );
    return snapshot;
  };
  const gauge = (name: string, help: string, value: (s: RelayStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['relay'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await scrape()) this.set({ relay: s.name }, value(s));
      },
    });
  gauge('parallax_relay_lag_events', 'Committed outbox events the relay has not published yet.', (s) => s.lagEvents);
  gauge(
    'parallax_relay_lag_seconds',
    'Age of the oldest committed outbox event the relay has not published (0 when caught up).',
    (s) => s.lagMs / 1000,
  );
  gauge('parallax_relay_events_published', 'Events the relay checkpointed as published, in total.', (s) =>
    Number(s.eventsPublished),
  );
  gauge('parallax_relay_lease_held', '1 while a process holds the relay lease.', (s) => (s.owner ? 1 : 0));
  const recorders: RelayMetrics = {
    stored: new Counter({
      name: 'parallax_relay_messages_stored_total',
      help: 'Messages this process published that JetStream stored.',
      labelNames: ['relay'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'parallax_relay_messages_duplicate_total',
      help: 'Messages this process re-published that JetStream dropped as duplicates (same Nats-Msg-Id): after a crash, a handover or a failed batch.',
      labelNames: ['relay'] as const,
      registers,
    }),
    failures: new Counter({
      name: 'parallax_relay_batch_failures_total',
      help: 'Relay batches that failed (NATS unreachable, timeouts); each is retried from the checkpoint.',
      labelNames: ['relay'] as const,
      registers,
    }),
    batchDuration: new Histogram({
      name: 'parallax_relay_batch_duration_seconds',
      help: 'Duration of a relay batch, from reading the outbox to the checkpoint update.',
      labelNames: ['relay'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
  registered.set(metrics, recorders);
  return recorders;
}
