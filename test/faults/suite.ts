// The fault suite, as a function each configuration's spec file calls (faults.test.ts:
// every projection ASYNC, with the outbox relay; inline.test.ts: two projections
// INLINE; readDatabase.test.ts: the read models in a PostgreSQL of their own). Two API
// and two projector processes on a throwaway PostgreSQL (two with a separate read
// database) and Redis (and nats-server when the relay runs); twelve clients write
// continuously, keeping a ledger of every command; four subscribers (SSE and WebSocket)
// follow orderListChanged and resume from their last position whenever their stream
// breaks. Faults, one kind per phase, as many times as the configuration says (a kind
// given 0 times has no phase): projector SIGKILL, PostgreSQL restart (the write
// database), read PostgreSQL restart (a separate read database only), Redis restart,
// API SIGKILL with open subscriptions, a long-open transaction holding the outbox
// horizon, NATS restart and SIGKILL of the projector running the outbox relay (after
// those two the stream holds every outbox event exactly once).
// After each phase the clients hold, the projections catch up, and the checker
// compares the ledger, the write tables, the outbox, every read model and every
// subscriber. Recovery times come from a probe command after each fault: acknowledged,
// applied by every projection and received by every subscriber. Figures go to
// test/.artifacts/<artifact>.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { comparePositions, decodePosition } from '../../src/outbox/position.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { consumeAll, natsConnect } from '../support/nats.ts';
import { caughtUp, until } from '../support/projections.ts';
import { expectEveryEventOnceInAggregateOrder, outboxEntries, relayCaughtUp, relayPosition } from '../support/relay.ts';
import { type CheckReport, check } from './checker.ts';
import { FaultCluster } from './cluster.ts';
import { type Catalogue, LoadDriver, send } from './driver.ts';
import { ResumingSubscriber } from './subscribers.ts';

export type Fault =
  | 'projectorKill'
  | 'postgresRestart'
  | 'readPostgresRestart'
  | 'redisRestart'
  | 'apiKill'
  | 'longTransaction'
  | 'natsRestart'
  | 'relayKill';

export interface FaultSuiteOptions {
  /** Names the configuration in the describe block and in the figures. */
  label: string;
  /** Extra environment for every process, API and projector (e.g. PROJECTION_MODES). */
  env?: Record<string, string>;
  /** How many times each fault is injected; a fault given 0 times has no phase. */
  faults: Record<Fault, number>;
  /** Whether the projectors run the outbox relay to the suite's own nats-server (needed by the NATS faults). */
  relay: boolean;
  /**
   * The read models, checkpoints and projection bookkeeping in a second PostgreSQL
   * (READ_DATABASE_URL), restartable on its own (needed by the read PostgreSQL restarts).
   */
  readDatabase?: boolean;
  /** The figures' file name in test/.artifacts. */
  artifact: string;
}

const CLIENTS = 12;

export function faultSuite(options: FaultSuiteOptions): void {
  const counts = options.faults;
  if (!options.relay && (counts.natsRestart > 0 || counts.relayKill > 0)) {
    throw new Error('NATS restarts and relay kills need the relay');
  }
  if (!options.readDatabase && counts.readPostgresRestart > 0) {
    throw new Error('read PostgreSQL restarts need a separate read database');
  }
  const expectedFaults = Object.values(counts).reduce((a, b) => a + b, 0);

  const cluster = new FaultCluster();
  let driver: LoadDriver;
  let subscribers: ResumingSubscriber[] = [];
  let subscribedFrom: string;
  const recovery: Record<Fault, number[]> = {
    projectorKill: [],
    postgresRestart: [],
    readPostgresRestart: [],
    redisRestart: [],
    apiKill: [],
    longTransaction: [],
    natsRestart: [],
    relayKill: [],
  };
  const checks: { phase: string; report: CheckReport }[] = [];

  async function gql(query: string, variables: Record<string, unknown> = {}, api = cluster.liveApis()[0]!) {
    const response = await fetch(`http://127.0.0.1:${api.port}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${cluster.adminToken}`,
        connection: 'close',
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as {
      data?: Record<string, unknown>;
      errors?: { extensions?: { code?: string } }[];
    };
  }

  async function givenCatalogue(): Promise<Catalogue> {
    const port = cluster.liveApis()[0]!.port;
    const productIds: string[] = [];
    const customerIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const sent = await send(
        port,
        cluster.adminToken,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { __typename ... on ProductPayload { product { id } } } }',
        { input: { sku: `FAULT-${i}`, name: `Fault part ${i}`, priceCents: 100 + i * 25 } },
      );
      if (sent.outcome !== 'acked' && sent.outcome !== 'rejected') throw new Error(sent.error);
      productIds.push((sent.payload! as unknown as { product: { id: string } }).product.id);
    }
    for (let i = 0; i < 8; i++) {
      const sent = await send(
        port,
        cluster.adminToken,
        'mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename ... on CustomerPayload { customer { id } } } }',
        { input: { name: `Fault Shopper ${i}`, email: `fault${i}@example.com` } },
      );
      if (sent.outcome !== 'acked' && sent.outcome !== 'rejected') throw new Error(sent.error);
      customerIds.push((sent.payload! as unknown as { customer: { id: string } }).customer.id);
    }
    return { productIds, customerIds };
  }

  async function projectionsPassed(position: string): Promise<boolean> {
    const target = decodePosition(position);
    const checkpoints = await readCheckpoints(pgSql(cluster.readPool)).catch(() => []);
    return PROJECTION_NAMES.every((name) => {
      const c = checkpoints.find((cp) => cp.name === name);
      return c !== undefined && comparePositions(c.position, target) >= 0;
    });
  }

  /**
   * Recovered: a new command is acknowledged, every projection applied it and every
   * subscriber received it. Measured from `since` (the kill, or the restart / release).
   */
  async function recovered(kind: Fault, since: number): Promise<void> {
    const crashes = cluster.crashes();
    if (crashes.length) throw new Error(`processes died by themselves:\n${crashes.join('\n')}`);
    const probe = await driver.probe();
    await until(`every projection to apply the probe after ${kind}`, () => projectionsPassed(probe.position), 90_000);
    await until(
      `every subscriber to receive the probe after ${kind}`,
      async () => subscribers.every((s) => s.has(probe.orderId)),
      90_000,
    ).catch((error: Error) => {
      const state = subscribers.map((s) => ({
        transport: s.transport,
        port: s.api?.port,
        received: s.received.length,
        resumes: s.resumes.length,
        errors: s.errors.slice(-3).map((e) => String((e as Error)?.message ?? JSON.stringify(e))),
      }));
      throw new Error(`${error.message}; subscribers: ${JSON.stringify(state)}`);
    });
    recovery[kind].push(Date.now() - since);
    console.log(`${kind} #${recovery[kind].length}: recovered in ${Date.now() - since} ms`);
  }

  /** Recovered: a new command's events are in the stream (the relay checkpointed past them). */
  async function relayRecovered(kind: Fault, since: number): Promise<void> {
    const probe = await driver.probe();
    const target = decodePosition(probe.position);
    await until(
      `the relay to publish the probe after ${kind}`,
      async () => {
        const position = await relayPosition(cluster.pool).catch(() => undefined);
        return position !== undefined && comparePositions(position, target) >= 0;
      },
      90_000,
    );
    recovery[kind].push(Date.now() - since);
    console.log(`${kind} #${recovery[kind].length}: recovered in ${Date.now() - since} ms`);
  }

  /** Clients hold, projections catch up, subscribers settle, then everything is compared. */
  async function checkPhase(phase: string): Promise<void> {
    expect(cluster.crashes(), `${phase}: processes that died by themselves`).toEqual([]);
    await driver.pause();
    try {
      await caughtUp(cluster.pools, PROJECTION_NAMES, 90_000);
      let report = await check(cluster.pools, driver.ledger, subscribers, subscribedFrom);
      // Subscribers receive the last changes a few milliseconds after the checkpoints move.
      const deadline = Date.now() + 15_000;
      while (report.problems.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        report = await check(cluster.pools, driver.ledger, subscribers, subscribedFrom);
      }
      checks.push({ phase, report });
      expect(report.problems.slice(0, 10), phase).toEqual([]);
      expect(report.lost).toBe(0);
      expect(
        driver.ledger.filter((e) => e.outcome === 'unexpected'),
        `${phase}: unexpected errors`,
      ).toEqual([]);
    } finally {
      driver.resume();
    }
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  function ackedBetween(from: number, to: number): number {
    return driver.ledger.filter((e) => e.outcome === 'acked' && e.at >= from && e.at <= to).length;
  }

  /** A phase for a fault injected `times` times; none at all for 0. */
  function phase(times: number, name: string, body: () => Promise<void>): void {
    if (times > 0) it(name, body, 300_000);
  }

  /** Each projection's mode as PROJECTION_MODES in `env` sets it (ASYNC otherwise). */
  function configuredModes(): Record<string, string> {
    const modes: Record<string, string> = Object.fromEntries(PROJECTION_NAMES.map((name) => [name, 'ASYNC']));
    for (const part of (options.env?.PROJECTION_MODES ?? '').split(',').filter(Boolean)) {
      const [name, mode] = part.split('=').map((s) => s.trim());
      modes[name!] = mode!;
    }
    return modes;
  }

  beforeAll(async () => {
    await cluster.start({
      apis: 2,
      projectors: 2,
      relay: options.relay,
      readDatabase: options.readDatabase ?? false,
      ...(options.env ? { env: options.env } : {}),
    });
    // The configuration is in effect: every API process reports the modes it was given.
    for (const api of cluster.liveApis()) {
      const result = await gql('{ projections { name mode } }', {}, api);
      const reported = (result.data?.projections ?? []) as { name: string; mode: string }[];
      expect(Object.fromEntries(reported.map((p) => [p.name, p.mode])), `modes of API :${api.port}`).toEqual(
        configuredModes(),
      );
    }
    const catalogue = await givenCatalogue();
    driver = new LoadDriver(cluster, catalogue, CLIENTS, `f${process.pid}`);
    subscribedFrom = (await driver.probe()).position;
    subscribers = [
      new ResumingSubscriber(cluster, 'sse', subscribedFrom, 0),
      new ResumingSubscriber(cluster, 'ws', subscribedFrom, 0),
      new ResumingSubscriber(cluster, 'sse', subscribedFrom, 1),
      new ResumingSubscriber(cluster, 'ws', subscribedFrom, 1),
    ];
    for (const s of subscribers) s.start();
    await until('every subscriber to be connected', async () => subscribers.every((s) => s.api !== undefined));
    // A subscription is listening once it receives a change; the first probe proves it.
    await recovered('apiKill', Date.now()).then(() => recovery.apiKill.pop());
    await driver.start();
  }, 180_000);

  afterAll(async () => {
    for (const s of subscribers) s.stop();
    await cluster.stop();
  });

  describe(`faults under ${CLIENTS} writing clients (${options.label})`, () => {
    phase(
      counts.projectorKill,
      `projector SIGKILL ×${counts.projectorKill}: the others take over, nothing applied twice or lost`,
      async () => {
        // A third projector, so one can be starting while two run and one of them dies.
        const starting = new Set<Promise<unknown>>();
        const replace = () => {
          const started: Promise<unknown> = cluster.startProjector().finally(() => starting.delete(started));
          starting.add(started);
        };
        replace();
        for (let i = 0; i < counts.projectorKill; i++) {
          while (cluster.startedProjectors().length < 2) await Promise.race(starting);
          const live = cluster.startedProjectors();
          const victim = live[Math.floor(Math.random() * live.length)]!;
          const killedAt = Date.now();
          await cluster.kill(victim);
          expect(victim.child.signalCode).toBe('SIGKILL');
          replace();
          await recovered('projectorKill', killedAt);
        }
        await Promise.all(starting);
        expect(recovery.projectorKill).toHaveLength(counts.projectorKill);
        await checkPhase('projector kills');
      },
    );

    phase(
      counts.postgresRestart,
      `PostgreSQL restart ×${counts.postgresRestart}: UNAVAILABLE while down, /ready 503, everything reconnects by itself`,
      async () => {
        for (let i = 0; i < counts.postgresRestart; i++) {
          const stoppedAt = Date.now();
          await cluster.stopPostgres();
          try {
            // Commands in flight and sent meanwhile fail with the retryable code; /ready says so.
            await until('a command to fail with UNAVAILABLE', async () =>
              driver.ledger.some((e) => e.outcome === 'unavailable' && e.at >= stoppedAt),
            );
            for (const api of cluster.liveApis()) {
              await until('/ready to answer 503', async () => (await cluster.ready(api)) === 503);
            }
            await sleep(500);
          } finally {
            await cluster.restartPostgres();
          }
          const restartedAt = Date.now();
          await recovered('postgresRestart', restartedAt);
          for (const api of cluster.liveApis()) {
            await until('/ready to answer 200 again', async () => (await cluster.ready(api)) === 200, 60_000);
          }
        }
        await checkPhase('PostgreSQL restarts');
      },
    );

    phase(
      counts.readPostgresRestart,
      `read PostgreSQL restart ×${counts.readPostgresRestart}: commands unaffected, queries UNAVAILABLE and /ready 503 while down, the projectors catch up`,
      async () => {
        for (let i = 0; i < counts.readPostgresRestart; i++) {
          const stoppedAt = Date.now();
          await cluster.stopReadPostgres();
          try {
            // Commands touch only the write database: they go on being acknowledged.
            await until(
              'commands to be acknowledged while the read database is down',
              async () => ackedBetween(stoppedAt, Date.now()) > 20,
            );
            // Queries read the read models: they fail with the retryable code; /ready says so.
            const query = await gql('{ orders(first: 1) { nodes { id } } }');
            expect(query.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
            for (const api of cluster.liveApis()) {
              await until('/ready to answer 503', async () => (await cluster.ready(api)) === 503);
            }
            await sleep(500);
          } finally {
            await cluster.restartReadPostgres();
          }
          const restartedAt = Date.now();
          const acknowledged = ackedBetween(stoppedAt, restartedAt);
          expect(acknowledged).toBeGreaterThan(20);
          console.log(
            `readPostgresRestart #${i + 1}: ${acknowledged} commands acknowledged while the read database was down`,
          );
          await recovered('readPostgresRestart', restartedAt);
          for (const api of cluster.liveApis()) {
            await until('/ready to answer 200 again', async () => (await cluster.ready(api)) === 200, 60_000);
          }
          // No command failed for the outage: from the stop to the recovery every one was
          // acknowledged or rejected by the domain (never UNAVAILABLE, lost or unexpected).
          expect(
            driver.ledger.filter((e) => e.at >= stoppedAt && e.outcome !== 'acked' && e.outcome !== 'rejected'),
            'commands that failed while the read database was down or coming back',
          ).toEqual([]);
        }
        await checkPhase('read PostgreSQL restarts');
      },
    );

    phase(
      counts.redisRestart,
      `Redis restart ×${counts.redisRestart}: commands and queries keep working, subscribers miss nothing`,
      async () => {
        for (let i = 0; i < counts.redisRestart; i++) {
          const stoppedAt = Date.now();
          await cluster.stopRedis();
          try {
            await sleep(1_500);
            const query = await gql('{ orders(first: 1) { nodes { id } } }');
            expect(query.errors).toBeUndefined();
            await until(
              'commands to be acknowledged while Redis is down',
              async () => ackedBetween(stoppedAt, Date.now()) > 5,
            );
          } finally {
            await cluster.restartRedis();
          }
          const restartedAt = Date.now();
          expect(ackedBetween(stoppedAt, restartedAt)).toBeGreaterThan(5);
          await recovered('redisRestart', restartedAt);
        }
        await checkPhase('Redis restarts');
      },
    );

    phase(
      counts.apiKill,
      `API SIGKILL ×${counts.apiKill} with open subscriptions: subscribers resume elsewhere from their last position`,
      async () => {
        for (let i = 0; i < counts.apiKill; i++) {
          const victim = cluster.liveApis()[0]!;
          const affected = subscribers.filter((s) => s.api === victim);
          expect(affected.length).toBeGreaterThan(0);
          const resumesBefore = affected.map((s) => s.resumes.length);
          const killedAt = Date.now();
          await cluster.kill(victim);
          const replacement = cluster.startApi();
          await recovered('apiKill', killedAt);
          affected.forEach((s, j) => {
            expect(s.resumes.length).toBeGreaterThan(resumesBefore[j]!);
            expect(s.api).not.toBe(victim);
          });
          await replacement;
        }
        await checkPhase('API kills');
      },
    );

    phase(
      counts.longTransaction,
      `long-open transaction ×${counts.longTransaction}: lag grows, the holder is reported, everything catches up`,
      async () => {
        for (let i = 0; i < counts.longTransaction; i++) {
          const holder = new pg.Client({
            connectionString: cluster.databaseUrl,
            application_name: 'fault-horizon-holder',
          });
          await holder.connect();
          const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          await holder.query('BEGIN');
          await holder.query('SELECT pg_current_xact_id()');
          try {
            const reported = await until('the horizon holder to be reported with growing lag', async () => {
              const result = await gql('{ projections { name lagEvents } outbox { horizonHolders { pid ageMs } } }');
              const data = result.data as {
                projections: { name: string; lagEvents: number }[];
                outbox: { horizonHolders: { pid: number; ageMs: number }[] };
              };
              const holds = data.outbox.horizonHolders[0];
              return holds?.pid === pid && data.projections.every((p) => p.lagEvents >= 20) ? data : undefined;
            });
            expect(reported.outbox.horizonHolders[0]!.pid).toBe(pid);
            const metrics = await (await fetch(`http://127.0.0.1:${cluster.liveApis()[0]!.port}/metrics`)).text();
            const age = Number(/^parallax_outbox_horizon_holder_age_seconds (\S+)$/m.exec(metrics)?.[1]);
            expect(age).toBeGreaterThan(0);
          } finally {
            await holder.query('COMMIT');
            await holder.end();
          }
          await recovered('longTransaction', Date.now());
        }
        await checkPhase('long transactions');
      },
    );

    phase(
      counts.natsRestart + counts.relayKill,
      `NATS restart ×${counts.natsRestart} and relay SIGKILL ×${counts.relayKill}: commands unaffected, lag recovers, the stream holds every event once`,
      async () => {
        const nats = cluster.nats!;
        const relayConfig = cluster.relayConfig!;
        for (let i = 0; i < counts.natsRestart; i++) {
          const stoppedAt = Date.now();
          await nats.down();
          try {
            // Commands go on; the relay's lag grows and names the failure.
            await until(
              'commands to be acknowledged while NATS is down',
              async () => ackedBetween(stoppedAt, Date.now()) > 5,
            );
            await until('the relay lag to show', async () => {
              const result = await gql('{ relays { lagEvents lastError } }');
              const [relay] = (result.data?.relays ?? []) as { lagEvents: number; lastError: string | null }[];
              return relay !== undefined && relay.lagEvents > 0 && relay.lastError !== null;
            });
          } finally {
            await nats.up();
          }
          await relayRecovered('natsRestart', Date.now());
        }
        for (let i = 0; i < counts.relayKill; i++) {
          // A survivor must be running: the takeover is measured, not a process start.
          await until('two projectors to run', async () => cluster.startedProjectors().length >= 2, 120_000);
          const result = await gql('{ relays { owner } }');
          const owner = ((result.data?.relays ?? []) as { owner: string | null }[])[0]?.owner;
          const pid = Number(owner?.split(':').at(-2));
          const victim = cluster.startedProjectors().find((p) => p.child.pid === pid);
          expect(victim, `the relay's owner ${owner} is a running projector`).toBeDefined();
          const killedAt = Date.now();
          await cluster.kill(victim!);
          const replacement = cluster.startProjector();
          await relayRecovered('relayKill', killedAt);
          await replacement;
        }
        await checkPhase('NATS restarts and relay kills');
        await driver.pause();
        try {
          await relayCaughtUp(cluster.pool, 90_000);
          const nc = await natsConnect(nats.url);
          try {
            const outbox = await outboxEntries(cluster.pool);
            const received = await consumeAll(nc, relayConfig.stream, outbox.length);
            await expectEveryEventOnceInAggregateOrder(cluster.pool, received, relayConfig.subjectPrefix);
          } finally {
            await nc.close();
          }
        } finally {
          driver.resume();
        }
      },
    );

    it('final ledger: every acknowledged command everywhere exactly once, figures written', async () => {
      await driver.stop();
      await caughtUp(cluster.pools, PROJECTION_NAMES, 90_000);
      let report = await check(cluster.pools, driver.ledger, subscribers, subscribedFrom);
      const deadline = Date.now() + 15_000;
      while (report.problems.length && Date.now() < deadline) {
        await sleep(250);
        report = await check(cluster.pools, driver.ledger, subscribers, subscribedFrom);
      }
      checks.push({ phase: 'final', report });
      expect(report.problems.slice(0, 10)).toEqual([]);
      expect(driver.pendingCreates.size).toBe(0);
      const percentile = (xs: number[], p: number) => {
        const sorted = [...xs].sort((a, b) => a - b);
        // Nearest rank.
        return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
      };
      const outcomes: Record<string, number> = {};
      for (const e of driver.ledger) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
      const figures = {
        configuration: options.label,
        env: options.env ?? {},
        modes: configuredModes(),
        relay: options.relay,
        readDatabase: options.readDatabase ?? false,
        clients: CLIENTS,
        commandsSent: driver.ledger.length,
        commandsAcknowledged: report.acknowledged,
        outcomes,
        faultsInjected: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, v.length])),
        recoveryMs: Object.fromEntries(
          Object.entries(recovery)
            .filter(([, v]) => v.length > 0)
            .map(([k, v]) => [k, { p50: percentile(v, 50), max: Math.max(...v) }]),
        ),
        subscriberChanges: subscribers.map((s) => s.received.length),
        subscriberResumes: subscribers.map((s) => s.resumes.length),
        eventsLost: checks.reduce((n, c) => n + c.report.lost, 0),
      };
      await mkdir(join(import.meta.dirname, '../.artifacts'), { recursive: true });
      await writeFile(
        join(import.meta.dirname, '../.artifacts', options.artifact),
        `${JSON.stringify(figures, null, 2)}\n`,
      );
      console.log(`fault suite (${options.label}): ${JSON.stringify(figures)}`);
      expect(figures.eventsLost).toBe(0);
      expect(figures.faultsInjected).toEqual(counts);
      expect(Object.values(figures.faultsInjected).reduce((a, b) => a + b, 0)).toBe(expectedFaults);
    }, 300_000);
  });
}
