// The fault suite's own world: a throwaway embedded PostgreSQL (two with `readDatabase`:
// the write model and outbox in one, the read models and projection bookkeeping in the
// other, as READ_DATABASE_URL puts them) and a throwaway redis-server, all restartable
// on their ports (the run's shared servers are never touched), and Parallax API and
// projector processes started as users start them.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { TokenService } from '../../src/auth/jwt.ts';
import { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import type { Pools } from '../../src/db/pools.ts';
import { TEST_JWT_SECRET } from '../support/app.ts';
import { PrivateNatsServer, relayEnv, uniqueRelayConfig } from '../support/nats.ts';
import { canConnect } from '../support/net.ts';
import { listeningPort, type ParallaxProcess, spawnParallax, waitForOutput } from '../support/processes.ts';

export const LEASE_MS = 1000;

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ApiProcess extends ParallaxProcess {
  port: number;
}

export class FaultCluster {
  /** The write database (write model, outbox, relay checkpoints); the only one without `readDatabase`. */
  pool!: pg.Pool;
  databaseUrl!: string;
  /**
   * The read database (read models, checkpoints, leases, parked events): its own
   * PostgreSQL with `readDatabase`, else the very same pool as `pool`.
   */
  readPool!: pg.Pool;
  /** READ_DATABASE_URL of every process; undefined with one database. */
  readDatabaseUrl: string | undefined;
  redisUrl!: string;
  adminToken!: string;
  /** Signs tokens the processes accept (each load client is its own subject, as real clients are). */
  tokens!: TokenService;
  readonly apis: ApiProcess[] = [];
  readonly projectors: ParallaxProcess[] = [];
  private readonly all: ParallaxProcess[] = [];
  private dir!: string;
  private postgres: EmbeddedDatabase | undefined;
  private readPostgres: EmbeddedDatabase | undefined;
  private redis: ChildProcess | undefined;
  private redisPort!: number;
  /**
   * The suite's own nats-server (restartable); every projector relays the outbox to it.
   * Only with `relay` on.
   */
  nats: PrivateNatsServer | undefined;
  relayConfig: ReturnType<typeof uniqueRelayConfig> | undefined;
  /** Given to every process (API and projector), after the cluster's own settings. */
  private extraEnv: Record<string, string> = {};

  /** Both databases' pools, as the helpers that read one side or the other take them. */
  get pools(): Pools {
    return { write: this.pool, read: this.readPool };
  }

  /**
   * `env`: extra environment for every process (e.g. PROJECTION_MODES). `relay`: start
   * the private nats-server and have every projector run the outbox relay to it.
   * `readDatabase`: a second PostgreSQL for the read side, given to every process as
   * READ_DATABASE_URL.
   */
  async start(options: {
    apis: number;
    projectors: number;
    env?: Record<string, string>;
    relay: boolean;
    readDatabase?: boolean;
  }): Promise<void> {
    this.extraEnv = options.env ?? {};
    this.dir = await mkdtemp(join(tmpdir(), 'parallax-faults-'));
    await this.startPostgres();
    this.databaseUrl = this.postgres!.url;
    if (options.readDatabase) {
      // Each side's migrations in its own database, as migrateDatabases does at startup.
      await this.startReadPostgres();
      this.readDatabaseUrl = this.readPostgres!.url;
      await migrate(this.databaseUrl, ['write']);
      await migrate(this.readDatabaseUrl, ['read']);
    } else {
      await migrate(this.databaseUrl);
    }
    this.redisPort = await freePort();
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}`;
    await this.startRedis();
    if (options.relay) {
      this.nats = await PrivateNatsServer.start();
      this.relayConfig = uniqueRelayConfig(this.nats.url);
    }
    // Short connection timeout: the suite's own checks must not hang while PostgreSQL is down.
    this.pool = new pg.Pool({ connectionString: this.databaseUrl, max: 6, connectionTimeoutMillis: 2_000 });
    this.pool.on('error', () => {});
    if (this.readDatabaseUrl) {
      this.readPool = new pg.Pool({ connectionString: this.readDatabaseUrl, max: 6, connectionTimeoutMillis: 2_000 });
      this.readPool.on('error', () => {});
    } else {
      this.readPool = this.pool;
    }
    this.tokens = new TokenService(TEST_JWT_SECRET);
    this.adminToken = await this.tokens.sign({ sub: 'fault-suite', role: 'admin' });
    await Promise.all([
      ...Array.from({ length: options.apis }, () => this.startApi()),
      ...Array.from({ length: options.projectors }, () => this.startProjector()),
    ]);
  }

  private env(role: 'api' | 'projector'): Record<string, string> {
    return {
      ROLE: role,
      DATABASE_URL: this.databaseUrl,
      // Cleared with one database: one inherited from the test run's environment would
      // move the read models somewhere the suite's checks do not look.
      READ_DATABASE_URL: this.readDatabaseUrl ?? '',
      REDIS_URL: this.redisUrl,
      LOG_LEVEL: role === 'api' ? 'info' : 'warn',
      PROJECTION_LEASE_MS: String(LEASE_MS),
      PROJECTION_POLL_MS: '200',
      DATABASE_POOL_SIZE: '8',
      // Without the relay, NATS_URL is cleared: one inherited from the test run's
      // environment would start a relay to the shared server.
      ...(role === 'projector' && this.relayConfig ? relayEnv(this.relayConfig) : { NATS_URL: '' }),
      ...this.extraEnv,
    };
  }

  async startApi(): Promise<ApiProcess> {
    const proc = spawnParallax(this.env('api'));
    this.all.push(proc);
    const port = await listeningPort(proc);
    const api = Object.assign(proc, { port });
    this.apis.push(api);
    return api;
  }

  /** A projector process, once its engine has started. */
  async startProjector(): Promise<ParallaxProcess> {
    const proc = spawnParallax({ ...this.env('projector'), LOG_LEVEL: 'info' });
    this.all.push(proc);
    this.projectors.push(proc);
    await waitForOutput(proc, 'projection engine started');
    return proc;
  }

  liveApis(): ApiProcess[] {
    return this.apis.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
  }

  /** Projector processes alive with their engine started. */
  startedProjectors(): ParallaxProcess[] {
    return this.projectors.filter(
      (p) =>
        p.child.exitCode === null &&
        p.child.signalCode === null &&
        p.output.some((line) => line.includes('projection engine started')),
    );
  }

  private readonly killed = new Set<ParallaxProcess>();

  /** Processes that died without the suite killing them, with the end of their output. */
  crashes(): string[] {
    return this.all
      .filter((p) => !this.killed.has(p) && (p.child.exitCode !== null || p.child.signalCode !== null))
      .map(
        (p) =>
          `pid ${p.child.pid} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output.join('').slice(-4000)}`,
      );
  }

  async kill(proc: ParallaxProcess): Promise<void> {
    this.killed.add(proc);
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  private async startPostgres(): Promise<void> {
    this.postgres = await startEmbeddedPostgres({ dir: this.dir, persistent: true, database: 'parallax' });
  }

  /** Stops PostgreSQL (fast shutdown: sessions are terminated, 57P01). */
  async stopPostgres(): Promise<void> {
    await this.postgres?.stop();
    this.postgres = undefined;
  }

  /** Starts it again on the same port and data directory. */
  async restartPostgres(): Promise<void> {
    await this.startPostgres();
  }

  /** The read database: a cluster of its own under the suite's directory. */
  private async startReadPostgres(): Promise<void> {
    this.readPostgres = await startEmbeddedPostgres({
      dir: join(this.dir, 'read'),
      persistent: true,
      database: 'parallax_read',
    });
  }

  /** Stops the read database (fast shutdown, as `stopPostgres`); the write database stays up. */
  async stopReadPostgres(): Promise<void> {
    if (!this.readDatabaseUrl) throw new Error('no separate read database (start with readDatabase)');
    await this.readPostgres?.stop();
    this.readPostgres = undefined;
  }

  /** Starts the read database again on the same port and data directory. */
  async restartReadPostgres(): Promise<void> {
    await this.startReadPostgres();
  }

  private async startRedis(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.redis = child;
    await waitFor('redis-server to listen', () => canConnect(this.redisPort));
  }

  async stopRedis(): Promise<void> {
    const child = this.redis;
    this.redis = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async restartRedis(): Promise<void> {
    await this.startRedis();
  }

  /** `/ready` of a process: its HTTP status (0: no answer). */
  async ready(api: ApiProcess): Promise<number> {
    // A fresh connection each time: a kept-alive one may be closed by the server just as it is reused.
    try {
      const response = await fetch(`http://127.0.0.1:${api.port}/ready`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(15_000),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    for (const p of this.all) this.killed.add(p);
    for (const p of this.all) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.all.map((p) => p.exited));
    await this.pool?.end().catch(() => {});
    if (this.readPool && this.readPool !== this.pool) await this.readPool.end().catch(() => {});
    await this.stopRedis();
    await this.nats?.close();
    await this.postgres?.stop().catch(() => {});
    await this.readPostgres?.stop().catch(() => {});
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
