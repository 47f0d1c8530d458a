// The relay in real projector processes: SIGKILLed mid-batch again and again under
// load, and two of them at once with the lease holder killed. JetStream's
// de-duplication by Nats-Msg-Id keeps the stream at exactly one message per outbox
// event; a plain NATS subscription on the subjects counts every publish, duplicates
// included, to show the de-duplication at work.
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePositions, decodePosition, type Position } from '../../src/outbox/position.ts';
import { HEADERS } from '../../src/relay/message.ts';
import { NATS_RELAY } from '../../src/relay/relay.ts';
import { relayStatuses } from '../../src/relay/status.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import {
  consumeAll,
  deleteStream,
  natsConnect,
  relayEnv,
  streamMessageCount,
  uniqueRelayConfig,
} from '../support/nats.ts';
import { type ParallaxProcess, SpawnedProcesses, spawnProjector, waitForOutput } from '../support/processes.ts';
import { until } from '../support/projections.ts';
import { expectEveryEventOnceInAggregateOrder, outboxEntries, relayCaughtUp, relayPosition } from '../support/relay.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

const LEASE_MS = 1000;

/**
 * Every message published on the relay's subjects, duplicates included. `killOnPublish`
 * SIGKILLs a process the moment a message arrives past `after` (the next one when
 * `after` is not given, at once when one already has): the relay is then publishing,
 * mid-batch, or waiting to write its checkpoint.
 */
function countPublishes(nc: NatsConnection, prefix: string) {
  const seen = { count: 0, latest: undefined as Position | undefined, killedAt: undefined as Position | undefined };
  let armed: { proc: ParallaxProcess; after?: Position } | undefined;
  const kill = (position: Position | undefined) => {
    armed!.proc.child.kill('SIGKILL');
    armed = undefined;
    seen.killedAt = position;
  };
  const past = (position: Position | undefined, after: Position | undefined) =>
    !after || (position !== undefined && comparePositions(position, after) > 0);
  const sub: Subscription = nc.subscribe(`${prefix}.>`, {
    callback: (_error, m) => {
      seen.count += 1;
      const token = m.headers?.get(HEADERS.position);
      const position = token ? decodePosition(token) : undefined;
      if (position && (!seen.latest || comparePositions(position, seen.latest) > 0)) seen.latest = position;
      if (armed && past(position, armed.after)) kill(position);
    },
  });
  return {
    seen,
    killOnPublish: (proc: ParallaxProcess, after?: Position) => {
      seen.killedAt = undefined;
      armed = { proc, after };
      if (after && past(seen.latest, after)) kill(seen.latest);
    },
    stop: () => sub.unsubscribe(),
  };
}

/**
 * Holds the relay's checkpoint row locked (as a slow checkpoint write would be) and
 * returns the checkpoint it is frozen at: a message published past it is not
 * checkpointed while the lock is held. `dropTheLease` ends the holder's lease in the
 * same transaction, so a checkpoint write the killed process had already sent (its
 * backend still waits for the lock) finds the lease gone and changes nothing: the
 * crash landed between JetStream's acknowledgements and the checkpoint.
 */
async function holdCheckpoint(pool: pg.Pool) {
  const client = await pool.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ tx_id: string; seq: string }>(
    'SELECT tx_id::text AS tx_id, seq::text AS seq FROM relay_checkpoints WHERE name = $1 FOR UPDATE',
    [NATS_RELAY],
  );
  return {
    frozenAt: { txId: BigInt(rows[0]!.tx_id), seq: BigInt(rows[0]!.seq) } as Position,
    dropTheLease: async () => {
      try {
        await client.query('UPDATE relay_checkpoints SET lease_expires_at = now() WHERE name = $1', [NATS_RELAY]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
  };
}

function ownerPid(owner: string | null): number | undefined {
  return owner ? Number(owner.split(':').at(-2)) : undefined;
}

describe('relay processes SIGKILLed mid-batch', () => {
  let t: TestApp;
  let nc: NatsConnection;
  let catalogue: Catalogue;
  const config = uniqueRelayConfig(undefined, { batchSize: 100 });
  beforeAll(async () => {
    nc = await natsConnect();
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 6, 8);
  });
  // Every relay process this test started: a failed run must not leave them working on.
  const spawned: ParallaxProcess[] = [];
  afterAll(async () => {
    for (const p of spawned) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await t?.close();
    await deleteStream(nc, config.stream);
    await nc?.close();
  });

  it('keep exactly one stream message per outbox event after 10 kills under load, with duplicates dropped', async () => {
    const publishes = countPublishes(nc, config.subjectPrefix);
    const env = { ...relayEnv(config), PROJECTION_LEASE_MS: String(LEASE_MS), LOG_LEVEL: 'info' };
    // A standby is always started before the holder is killed, so each round costs the
    // lease timeout, not a process start.
    const live = new Map<number, ParallaxProcess>();
    const spawnRelay = async () => {
      const p = spawnProjector(t.databaseEnv, env);
      spawned.push(p);
      live.set(p.child.pid!, p);
      await waitForOutput(p, 'outbox relay started', 180_000);
    };
    await spawnRelay();
    let writing = true;
    const writers = runWorkload(t.app, catalogue, { writers: 3, commandsPerWriter: 100_000, stop: () => !writing });
    let kills = 0;
    let killedPastCheckpoint = 0;
    try {
      for (let round = 0; round < 10; round++) {
        const before = publishes.seen.count;
        const standby = spawnRelay();
        const holder = await until('a relay to hold the lease and publish', async () => {
          const [s] = await relayStatuses(t.pool);
          const pid = ownerPid(s?.owner ?? null);
          return publishes.seen.count > before + 40 && pid && live.has(pid) ? live.get(pid) : undefined;
        });
        await standby;
        // Every other round the kill lands while the checkpoint write is held back, so
        // some kills certainly leave acknowledged messages past the checkpoint; the
        // others land wherever the relay happens to be.
        const held = round % 2 === 1 ? await holdCheckpoint(t.pool) : undefined;
        publishes.killOnPublish(holder, held?.frozenAt);
        try {
          expect((await holder.exited).signal).toBe('SIGKILL');
        } finally {
          await held?.dropTheLease();
        }
        // Killed with a message JetStream has (or is about to acknowledge) past the
        // checkpoint: the next relay publishes it again, and JetStream drops the copy.
        const checkpoint = held ? held.frozenAt : await relayPosition(t.pool);
        if (checkpoint && publishes.seen.killedAt && comparePositions(publishes.seen.killedAt, checkpoint) > 0) {
          killedPastCheckpoint += 1;
        }
        live.delete(holder.child.pid!);
        kills += 1;
      }
      await until('the standby to take the relay over', async () => {
        const [s] = await relayStatuses(t.pool);
        return live.has(ownerPid(s?.owner ?? null) ?? -1);
      });
    } finally {
      writing = false;
      await writers;
    }
    await relayCaughtUp(t.pool);
    for (const p of live.values()) {
      // SIGTERM: the batch in flight finishes, the lease is given back, the process exits cleanly.
      p.child.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
    }
    publishes.stop();

    const outbox = await outboxEntries(t.pool);
    const stored = await streamMessageCount(nc, config.stream);
    console.log(
      `relay kills: ${kills} (${killedPastCheckpoint} mid-batch with a published message past the checkpoint); publishes ${publishes.seen.count}, stream messages ${stored}, outbox rows ${outbox.length}`,
    );
    expect(kills).toBe(10);
    expect(killedPastCheckpoint).toBeGreaterThanOrEqual(5);
    expect(stored).toBe(outbox.length);
    // Re-published after the kills, and dropped by JetStream: the de-duplication at
    // work, at least once for each kill that held the checkpoint back.
    expect(publishes.seen.count - stored).toBeGreaterThanOrEqual(5);
    const received = await consumeAll(nc, config.stream, outbox.length);
    await expectEveryEventOnceInAggregateOrder(t.pool, received, config.subjectPrefix);
  }, 600_000);
});

describe('two relays at once', () => {
  let t: TestApp;
  let nc: NatsConnection;
  let catalogue: Catalogue;
  const config = uniqueRelayConfig(undefined, { batchSize: 50 });
  const processes = new SpawnedProcesses();
  beforeAll(async () => {
    nc = await natsConnect();
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 6, 8);
  });
  afterAll(async () => {
    processes.killAll();
    await t?.close();
    await deleteStream(nc, config.stream);
    await nc?.close();
  });

  it('publish nothing twice, and the survivor takes over within the lease time when the holder is killed', async () => {
    const env = { ...relayEnv(config), PROJECTION_LEASE_MS: String(LEASE_MS), LOG_LEVEL: 'info' };
    const [a, b] = await Promise.all([
      processes.projector(t.databaseEnv, env, 'outbox relay started'),
      processes.projector(t.databaseEnv, env, 'outbox relay started'),
    ]);
    let writing = true;
    const writers = runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 100_000, stop: () => !writing });
    let takeoverMs: number;
    try {
      const holder = await until('one relay to hold the lease and publish', async () => {
        const [s] = await relayStatuses(t.pool);
        return s?.owner && s.eventsPublished > 100 ? s.owner : undefined;
      });
      const [victim, survivor] = ownerPid(holder) === a.child.pid ? [a, b] : [b, a];
      expect(ownerPid(holder)).toBe(victim.child.pid);
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      await victim.exited;
      await until('the survivor to take the relay over', async () => {
        const [s] = await relayStatuses(t.pool);
        return ownerPid(s?.owner ?? null) === survivor.child.pid;
      });
      takeoverMs = Date.now() - killedAt;
      const published = (await relayStatuses(t.pool))[0]!.eventsPublished;
      await until('the survivor to publish', async () => (await relayStatuses(t.pool))[0]!.eventsPublished > published);
    } finally {
      writing = false;
      await writers;
    }
    await relayCaughtUp(t.pool);
    console.log(`relay takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
    expect(takeoverMs).toBeLessThan(LEASE_MS + 1000);
    const outbox = await outboxEntries(t.pool);
    expect(await streamMessageCount(nc, config.stream)).toBe(outbox.length);
    const received = await consumeAll(nc, config.stream, outbox.length);
    await expectEveryEventOnceInAggregateOrder(t.pool, received, config.subjectPrefix);
  });
});
