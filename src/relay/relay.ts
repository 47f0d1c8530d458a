// The outbox relay: another consumer of the gap-free outbox reader (outbox/reader.ts),
// publishing every committed event to one NATS JetStream stream.
//
// A batch: read the next committed events after the checkpoint, publish them (in order
// per aggregate, see publishInOrder), and only once JetStream acknowledged every one,
// move the checkpoint with the fenced update (checkpoint.ts). A crash between the acks
// and the checkpoint makes the next relay re-publish those events with the same
// Nats-Msg-Id, and JetStream drops them as duplicates: exactly once into the stream.
//
// Outside any transaction: nothing is held open while NATS is slow or away, so
// commands and the projections' read horizon never wait for the broker. NATS down: the
// batch fails, the relay retries from its checkpoint with backoff, the lag grows and
// shows in /metrics and `relays`; nothing is skipped.
//
// One relay runs per database: a lease on its checkpoint row, renewed every third of
// its time; a dead holder's relay is taken over when the lease expires.
import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config.ts';
import { pgSql } from '../db/sql.ts';
import { OUTBOX_CHANNEL } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';
import { assertDecoded, readCommitted } from '../outbox/reader.ts';
import { Sleeper } from '../sleeper.ts';
import {
  advanceRelayCheckpoint,
  claimRelayLease,
  ensureRelayCheckpoint,
  readRelayCheckpoint,
  recordRelayError,
  releaseRelayLease,
} from './checkpoint.ts';
import { connectJetStream, ensureStream, type JetStreamLink, publishInOrder } from './jetstream.ts';
import type { RelayMetrics } from './metrics.ts';

/** The checkpoint row of the NATS relay. */
export const NATS_RELAY = 'nats';

export interface RelayOptions {
  pool: pg.Pool;
  /** For the LISTEN connection, which must not come from the pool. */
  databaseUrl: string;
  log: Logger;
  config: RelayConfig;
  owner: string;
  leaseMs: number;
  name?: string;
  /** Poll fallback when no NOTIFY arrives. */
  pollMs?: number;
  metrics?: RelayMetrics;
}

type Step = 'published' | 'full' | 'idle' | 'fenced';

export class OutboxRelay {
  readonly name: string;
  private stopping = false;
  private held = false;
  private link: JetStreamLink | undefined;
  private listener: pg.Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseRound: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();
  /** Our checkpoint while we hold the lease (re-read whenever we (re)take it). */
  private position: Position | undefined;
  private attempts = 0;
  private idleDelay = 5;
  private readonly pollMs: number;

  constructor(private readonly options: RelayOptions) {
    this.name = options.name ?? NATS_RELAY;
    this.pollMs = options.pollMs ?? 1000;
  }

  get owner(): string {
    return this.options.owner;
  }

  /** Whether this process runs the relay right now. */
  get leaseHeld(): boolean {
    return this.held;
  }

  /** Starts in the background: a NATS server that is down delays publishing, not start-up. */
  async start(): Promise<void> {
    await ensureRelayCheckpoint(pgSql(this.options.pool), this.name);
    await this.listen();
    await this.leaseTick();
    this.loop = this.run();
    this.options.log.info(
      { relay: this.name, stream: this.options.config.stream, subjectPrefix: this.options.config.subjectPrefix },
      'outbox relay started',
    );
  }

  wake(): void {
    this.sleeper.wake();
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (!this.held) {
        await this.sleep(this.pollMs);
        continue;
      }
      let step: Step;
      try {
        step = await this.step();
      } catch (error) {
        await this.failed(error);
        continue;
      }
      if (this.attempts) this.options.log.info({ relay: this.name }, 'relay publishing again');
      this.attempts = 0;
      if (step === 'full') continue;
      if (step === 'published') {
        this.idleDelay = 5;
        await this.sleep(0);
      } else if (step === 'fenced') {
        this.held = false;
        this.position = undefined;
        void this.leaseTick();
      } else {
        // Idle: events may sit behind a transaction still running (the horizon), whose
        // commit will not always NOTIFY; back off from 5 ms to the poll interval.
        this.idleDelay = Math.min(this.idleDelay * 2, this.pollMs);
        await this.sleep(this.idleDelay);
      }
    }
  }

  private async step(): Promise<Step> {
    const { pool, config, owner, metrics } = this.options;
    const sql = pgSql(pool);
    if (!this.link) this.link = await this.connect();
    if (!this.position) {
      const checkpoint = await readRelayCheckpoint(sql, this.name);
      if (!checkpoint) throw new Error(`relay checkpoint ${this.name} is missing`);
      this.position = checkpoint.position;
    }
    const from = this.position;
    const started = performance.now();
    const events = await readCommitted(sql, from, config.batchSize);
    if (!events.length) return 'idle';
    // Never published without its payload, never skipped: the relay retries and reports it.
    assertDecoded(events);
    const result = await publishInOrder(this.link.js, config.subjectPrefix, events);
    metrics?.stored.inc({ relay: this.name }, result.stored);
    if (result.duplicates) {
      metrics?.duplicates.inc({ relay: this.name }, result.duplicates);
      this.options.log.info(
        { relay: this.name, duplicates: result.duplicates, stored: result.stored },
        'relay re-published events JetStream already had (dropped by Nats-Msg-Id)',
      );
    }
    const to = events.at(-1)!.position;
    if (!(await advanceRelayCheckpoint(sql, this.name, owner, from, to, events.length))) {
      this.options.log.warn({ relay: this.name, owner }, 'relay lease lost before its checkpoint; stepping back');
      return 'fenced';
    }
    this.position = to;
    metrics?.batchDuration.observe({ relay: this.name }, (performance.now() - started) / 1000);
    return events.length === config.batchSize ? 'full' : 'published';
  }

  private async connect(): Promise<JetStreamLink> {
    const link = await connectJetStream(this.options.config, `parallax-relay ${this.options.owner}`);
    try {
      await ensureStream(link.nc, this.options.config);
    } catch (error) {
      await link.close();
      throw error;
    }
    void (async () => {
      for await (const s of link.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') {
          this.options.log.warn({ relay: this.name, nats: s.type }, `NATS ${s.type}`);
        }
        if (s.type === 'reconnect') this.wake();
      }
    })().catch(() => {});
    this.options.log.info({ relay: this.name, stream: this.options.config.stream }, 'relay connected to NATS');
    return link;
  }

  private async failed(error: unknown): Promise<void> {
    const { log, pool, owner, metrics } = this.options;
    this.attempts += 1;
    metrics?.failures.inc({ relay: this.name });
    const message = error instanceof Error ? error.message : String(error);
    const delay = Math.min(100 * 2 ** Math.min(this.attempts - 1, 6), 5_000);
    log.warn(
      { err: error, relay: this.name, attempt: this.attempts, retryInMs: delay },
      'relay batch failed; retrying',
    );
    await recordRelayError(pgSql(pool), this.name, owner, message).catch(() => {});
    if (this.link?.nc.isClosed()) this.link = undefined;
    await this.sleep(delay);
  }

  private leaseTick(): Promise<void> {
    this.leaseRound ??= this.claim().finally(() => {
      this.leaseRound = undefined;
    });
    return this.leaseRound;
  }

  private async claim(): Promise<void> {
    if (this.stopping) return;
    const { pool, owner, leaseMs, log } = this.options;
    const round = Math.floor(leaseMs / 3);
    let next = round;
    try {
      const lease = await claimRelayLease(pgSql(pool), this.name, owner, leaseMs);
      if (lease.held !== this.held) {
        log.info({ relay: this.name, owner, held: lease.held }, lease.held ? 'relay lease taken' : 'relay lease lost');
        this.position = undefined;
      }
      this.held = lease.held;
      // Try again just after a foreign lease expires: a dead relay is taken over at its
      // lease timeout, not up to a round later.
      if (!lease.held && lease.foreignExpiresInMs !== null) next = Math.min(round, lease.foreignExpiresInMs + 20);
      if (this.held) this.wake();
    } catch (error) {
      // Cannot reach the database: our lease will expire; stop publishing now.
      if (this.held) log.warn({ err: error, relay: this.name }, 'relay lease round failed; giving the relay up');
      this.held = false;
      this.position = undefined;
    }
    if (!this.stopping) {
      clearTimeout(this.leaseTimer);
      this.leaseTimer = setTimeout(() => void this.leaseTick(), Math.max(20, next));
    }
  }

  private async listen(): Promise<void> {
    if (this.stopping) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'parallax-relay' });
    const retry = () => {
      client.end().catch(() => {});
      if (this.listener === client) this.listener = undefined;
      if (!this.stopping) this.listenRetry = setTimeout(() => void this.listen(), 1000);
    };
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.options.log.warn({ err: error, relay: this.name }, 'relay LISTEN connection lost; polling until it is back');
      retry();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
      this.wake();
    } catch (error) {
      this.options.log.warn({ err: error, relay: this.name }, 'relay LISTEN failed; polling');
      retry();
    }
  }

  /** Finishes the batch in flight, gives the lease back at once, closes NATS. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.leaseTimer);
    clearTimeout(this.listenRetry);
    this.wake();
    await this.loop;
    await this.leaseRound;
    if (this.held) {
      await releaseRelayLease(pgSql(this.options.pool), this.name, this.options.owner).catch((error) =>
        this.options.log.warn({ err: error, relay: this.name }, 'could not release the relay lease; it expires'),
      );
      this.held = false;
    }
    await this.listener?.end().catch(() => {});
    await this.link?.close();
    this.options.log.info({ relay: this.name }, 'outbox relay stopped');
  }
}
