// The fault suite (suite.ts) with order_list_view and order_analytics INLINE in every
// process, API and projector: each command applies those two read models inside its own
// transaction, and the engine applies the same events again when its checkpoint reaches
// them. Under projector kills, a PostgreSQL restart, a Redis restart, API kills with
// open subscriptions and a long-open transaction, it proves that the checker still
// finds every read model equal to its recomputation from the write tables, that the
// engine applied each event once (each checkpoint's events_applied equals the outbox
// count), and that every subscriber has the latest state of every order, without
// duplicates. Fewer faults than the default configuration (about a minute on two
// cores), and no outbox relay: NATS has nothing to do with the modes. Figures go to
// test/.artifacts/faults-inline.json.
import { faultSuite } from './suite.ts';

faultSuite({
  label: 'order_list_view and order_analytics INLINE',
  env: { PROJECTION_MODES: 'order_list_view=INLINE,order_analytics=INLINE' },
  faults: {
    projectorKill: 6,
    postgresRestart: 1,
    readPostgresRestart: 0,
    redisRestart: 1,
    apiKill: 2,
    longTransaction: 1,
    natsRestart: 0,
    relayKill: 0,
  },
  relay: false,
  artifact: 'faults-inline.json',
});
