// The fault suite, default configuration (every projection ASYNC, the outbox relay on;
// the suite itself is in suite.ts). Two API and two projector processes on a throwaway
// PostgreSQL, Redis and nats-server; twelve clients write continuously, keeping a ledger
// of every command; four subscribers (SSE and WebSocket) follow orderListChanged and
// resume from their last position whenever their stream breaks. Faults, one kind per
// phase:
//   projector SIGKILL (20×), PostgreSQL restart (3×), Redis restart (3×),
//   API SIGKILL with open subscriptions (3×), a long-open transaction holding the
//   outbox horizon (2×), NATS restart (2×) and SIGKILL of the projector running the
//   outbox relay (3×); after those the stream holds every outbox event exactly once.
// After each phase the clients hold, the projections catch up, and the checker
// compares the ledger, the write tables, the outbox, every read model and every
// subscriber. Recovery times come from a probe command after each fault: acknowledged,
// applied by every projection and received by every subscriber. Figures go to
// test/.artifacts/faults.json.
import { faultSuite } from './suite.ts';

faultSuite({
  label: 'every projection ASYNC',
  faults: {
    projectorKill: 20,
    postgresRestart: 3,
    readPostgresRestart: 0,
    redisRestart: 3,
    apiKill: 3,
    longTransaction: 2,
    natsRestart: 2,
    relayKill: 3,
  },
  relay: true,
  artifact: 'faults.json',
});
