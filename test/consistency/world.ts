// The model test's world: one database, projector child processes (so they can be
// SIGKILLed), in-process API instances on the same Redis bus with their own
// PROJECTION_MODES (replaced to switch modes, so modes differ between instances as in
// a rolling deploy), subscribers that drop and resume from their last position, and a
// transaction that can hold the outbox horizon open.
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import type { App } from '../../src/app.ts';
import { commandContextFor } from '../../src/app.ts';
import { TokenService } from '../../src/auth/jwt.ts';
import { createRedisBus } from '../../src/bus/redis.ts';
import { loadConfig } from '../../src/config.ts';
import { pgSql } from '../../src/db/sql.ts';
import { createGraphQLServer } from '../../src/graphql/yoga.ts';
import { comparePositions, decodePosition } from '../../src/outbox/position.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../../src/projections/projection.ts';
import { PositionWatcher } from '../../src/read/consistency.ts';
import { type OrderListChange, orderListChanges } from '../../src/readModels/orderListView/live.ts';
import { verifyProjection } from '../../src/readModels/registry.ts';
import { createApp } from '../../src/runtime.ts';
import type { CommandContext } from '../../src/write/command.ts';
import { createCustomer } from '../../src/write/customer/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';
import { TEST_JWT_SECRET } from '../support/app.ts';
import { createSpecDatabase } from '../support/db.ts';
import { type ParallaxProcess, spawnProjector, waitForOutput } from '../support/processes.ts';
import { caughtUp, until } from '../support/projections.ts';

export type Modes = Partial<Record<ProjectionName, 'INLINE'>>;

export function modesFromMask(mask: number): Modes {
  return Object.fromEntries(
    PROJECTION_NAMES.filter((_, i) => mask & (1 << i)).map((name) => [name, 'INLINE' as const]),
  ) as Modes;
}

export interface ApiInstance {
  app: App;
  modes: Modes;
  /** A GraphQL request as the admin, through the instance's yoga (no socket). */
  gql(query: string, variables: Record<string, unknown>): Promise<GraphQLAnswer>;
  writer(name: string): CommandContext;
  close(): Promise<void>;
}

export interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A live orderListChanged subscriber that drops and resumes after its last position. */
export class Follower {
  readonly received: OrderListChange[] = [];
  readonly errors: string[] = [];
  resumes = 0;
  private stream: AsyncIterableIterator<OrderListChange> | undefined;
  private done: Promise<void> = Promise.resolve();
  api: ApiInstance | undefined;

  constructor(public last: string) {}

  start(api: ApiInstance): void {
    this.api = api;
    const stream = orderListChanges([api.app.pool], api.app.bus, { customerId: null, status: null }, this.last);
    this.stream = stream;
    this.done = (async () => {
      try {
        for await (const change of stream) {
          this.received.push(change);
          this.last = change.position;
        }
      } catch (error) {
        // A stream that ends with an error is resumed as a careful client resumes it.
        this.errors.push(String((error as Error)?.message ?? error));
        if (this.stream === stream) setTimeout(() => this.stream === stream && this.start(api), 100);
      }
    })();
  }

  /** Disconnects (the stream's return), keeping the last position. */
  async drop(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    await stream?.return?.();
    await this.done;
  }

  async resume(api: ApiInstance): Promise<void> {
    await this.drop();
    this.resumes += 1;
    this.start(api);
  }
}

const silent = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

export class World {
  databaseUrl!: string;
  pool!: pg.Pool;
  readonly apis: ApiInstance[] = [];
  readonly projectors: ParallaxProcess[] = [];
  readonly followers: Follower[] = [];
  productIds: string[] = [];
  customerIds: string[] = [];
  /** Per customer: each name it had → the customer version that set it (names are unique). */
  readonly names: Map<string, number>[] = [];
  /** Where the followers started: every change after it must reach them. */
  subscribedFrom!: string;
  horizon: pg.Client | undefined;
  /** Every read with a token that saw less than its token, in words. */
  readonly violations: string[] = [];
  readonly figures = { commands: 0, acked: 0, rejected: 0, tokenReads: 0, readTimeouts: 0, kills: 0, rebuilds: 0 };
  private redisUrl!: string;
  private namespace!: string;

  async start(): Promise<void> {
    this.databaseUrl = await createSpecDatabase();
    this.redisUrl = inject('redisUrl');
    this.namespace = `parallax:${new URL(this.databaseUrl).pathname.slice(1)}`;
    this.pool = new pg.Pool({ connectionString: this.databaseUrl, max: 6 });
    this.apis.push(await this.startApi({}), await this.startApi(modesFromMask(0b0011)));
    await Promise.all([this.startProjector(), this.startProjector()]);
    const ctx = this.apis[0]!.writer('model-setup');
    for (let i = 0; i < 3; i++) {
      const p = await createProduct(ctx, { sku: `MODEL-${i}`, name: `Model part ${i}`, priceCents: 150 + i * 40 });
      this.productIds.push(p.productId);
    }
    let position = '';
    for (let i = 0; i < 6; i++) {
      const c = await createCustomer(ctx, { name: `Model ${i}#0`, email: `model${i}@example.com` });
      this.customerIds.push(c.customerId);
      this.names.push(new Map([[`Model ${i}#0`, c.version]]));
      position = c.position;
    }
    this.subscribedFrom = position;
    for (let i = 0; i < 2; i++) {
      const follower = new Follower(position);
      follower.start(this.apis[i % this.apis.length]!);
      this.followers.push(follower);
    }
  }

  async startApi(modes: Modes): Promise<ApiInstance> {
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      LOG_LEVEL: 'error',
      PROJECTION_MODES: Object.keys(modes)
        .map((name) => `${name}=INLINE`)
        .join(','),
    });
    const log = pino({ level: 'error' }, silent());
    const pool = new pg.Pool({ connectionString: this.databaseUrl, max: 12 });
    const bus = createRedisBus(this.redisUrl, log, this.namespace, { buffer: config.publishBuffer });
    const tokens = new TokenService(TEST_JWT_SECRET, config.jwt);
    const app = createApp({ config, pool, log, tokens, bus });
    app.watcher = new PositionWatcher(pool, app.bus);
    await app.watcher.start();
    const yoga = createGraphQLServer(app);
    const admin = `Bearer ${await tokens.sign({ sub: 'model-reader', role: 'admin' })}`;
    return {
      app,
      modes,
      async gql(query, variables) {
        const response = await yoga.fetch('http://model/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: admin },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()) as GraphQLAnswer;
      },
      writer: (name) => commandContextFor(app, { sub: name, role: 'admin' }),
      async close() {
        app.watcher?.stop();
        await bus.close();
        await app.prisma.$disconnect();
        await pool.end();
      },
    };
  }

  /** Replaces API instance `index` with one running `modes`; its followers resume on the new one. */
  async switchModes(index: number, modes: Modes): Promise<void> {
    const old = this.apis[index]!;
    const next = await this.startApi(modes);
    this.apis[index] = next;
    for (const f of this.followers) if (f.api === old) await f.resume(next);
    await old.close();
  }

  async startProjector(): Promise<void> {
    const proc = spawnProjector(this.databaseUrl, {
      REDIS_URL: this.redisUrl,
      LOG_LEVEL: 'info',
      PROJECTION_LEASE_MS: '1000',
      PROJECTION_POLL_MS: '100',
      DATABASE_POOL_SIZE: '6',
    });
    this.projectors.push(proc);
    await waitForOutput(proc, 'projection engine started', 120_000);
  }

  /** SIGKILLs one projector and starts a replacement (which also rebuilds outdated versions). */
  async killProjector(which: number): Promise<void> {
    const live = this.projectors.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const victim = live[which % live.length]!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    this.figures.kills += 1;
    await this.startProjector();
  }

  crashes(): string[] {
    return this.projectors
      .filter((p) => p.child.exitCode !== null)
      .map((p) => `projector ${p.child.pid} exited ${p.child.exitCode}: ${p.output.join('').slice(-2000)}`);
  }

  async holdHorizon(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'model-horizon-holder' });
    await client.connect();
    await client.query('BEGIN');
    await client.query('SELECT pg_current_xact_id()');
    this.horizon = client;
  }

  async releaseHorizon(): Promise<void> {
    const client = this.horizon;
    this.horizon = undefined;
    if (!client) return;
    await client.query('COMMIT');
    await client.end();
  }

  /**
   * The end of a run: the horizon released, rebuilds finished and every projection at
   * the outbox head; then each read model equals its recomputation from the write
   * tables, each projection's engine applied every outbox event once, and every
   * follower holds the latest state of every order changed since it subscribed, each
   * change once and in order. Returns the problems found, in words.
   */
  async settle(): Promise<string[]> {
    await this.releaseHorizon();
    const problems = [...this.crashes()];
    await until(
      'rebuilds to finish',
      async () => (await this.pool.query('SELECT 1 FROM projection_rebuilds')).rowCount === 0,
      180_000,
    );
    await caughtUp(this.pool, PROJECTION_NAMES, 120_000);
    const sql = pgSql(this.pool);
    for (const name of PROJECTION_NAMES) {
      const report = await verifyProjection(sql, name, 5);
      if (report.differences.length) {
        problems.push(`${name} differs from the write tables: ${JSON.stringify(report.differences)}`);
      }
    }
    const outbox = Number((await this.pool.query('SELECT count(*) FROM outbox')).rows[0].count);
    for (const c of await readCheckpoints(sql)) {
      if ((PROJECTION_NAMES as readonly string[]).includes(c.name) && c.eventsApplied !== outbox) {
        problems.push(`${c.name}'s engine applied ${c.eventsApplied} events, the outbox has ${outbox}`);
      }
    }
    const followerProblems = () => this.followerProblems();
    let found = await followerProblems();
    const deadline = Date.now() + 20_000;
    while (found.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      found = await followerProblems();
    }
    return [...problems, ...found, ...this.violations];
  }

  private async followerProblems(): Promise<string[]> {
    const problems: string[] = [];
    const from = decodePosition(this.subscribedFrom);
    const { rows } = await this.pool.query<{ id: string; version: number; position: string }>(
      `SELECT order_id::text AS id, version, position_tx_id::text || ':' || position_seq::text AS position
         FROM order_list_view`,
    );
    for (const [i, f] of this.followers.entries()) {
      const last = new Map<string, { position: string; version: number }>();
      let outOfOrder = 0;
      for (const change of f.received) {
        const before = last.get(change.order.orderId);
        if (before && comparePositions(decodePosition(change.position), decodePosition(before.position)) <= 0) {
          outOfOrder += 1;
        }
        last.set(change.order.orderId, { position: change.position, version: change.order.version });
      }
      if (outOfOrder) problems.push(`follower ${i}: ${outOfOrder} duplicate or out-of-order changes`);
      let missed = 0;
      for (const row of rows) {
        const [tx, seq] = row.position.split(':');
        if (comparePositions({ txId: BigInt(tx!), seq: BigInt(seq!) }, from) <= 0) continue;
        if (last.get(row.id)?.version !== row.version) missed += 1;
      }
      if (missed) problems.push(`follower ${i}: the latest state of ${missed} of ${rows.length} orders not received`);
    }
    return problems;
  }

  async stop(): Promise<void> {
    await this.releaseHorizon().catch(() => {});
    for (const f of this.followers) await f.drop();
    for (const p of this.projectors) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.projectors.map((p) => p.exited));
    for (const api of this.apis) await api.close();
    await this.pool?.end();
  }
}
