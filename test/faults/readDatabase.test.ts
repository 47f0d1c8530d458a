// The fault suite (suite.ts) with the read models in a PostgreSQL of their own
// (READ_DATABASE_URL): the write model and the outbox in one throwaway cluster, the read
// models, checkpoints, leases and parked events in another, each restartable on its own.
// Every process, API and projector, gets both URLs; the projectors read the outbox from
// the write database and commit each batch with its checkpoint in the read database.
// Besides projector kills, a restart of the write database, a Redis restart, API kills
// with open subscriptions and a long-open transaction, the read database is restarted
// while the clients write: commands never touch it, so none fails meanwhile (queries
// answer UNAVAILABLE and /ready 503 until it is back), and the projectors catch up.
// The checker reads each side from its own database and still finds every read model
// equal to its recomputation, each event applied once (each checkpoint's events_applied
// equals the outbox count) and every subscriber with the latest state of every order.
// No INLINE mode (refused with a separate read database) and no outbox relay: NATS has
// nothing to do with where the read models live. Figures go to
// test/.artifacts/faults-read-database.json.
import { faultSuite } from './suite.ts';

faultSuite({
  label: 'a separate read database',
  faults: {
    projectorKill: 6,
    postgresRestart: 1,
    readPostgresRestart: 2,
    redisRestart: 1,
    apiKill: 2,
    longTransaction: 1,
    natsRestart: 0,
    relayKill: 0,
  },
  relay: false,
  readDatabase: true,
  artifact: 'faults-read-database.json',
});
