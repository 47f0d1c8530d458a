// Queries on PostgreSQL streaming replicas (READ_REPLICA_URLS), with read-your-writes
// still exact.
//
// - Each GraphQL request reads one source: a replica in rotation (round robin), else the
//   primary. A replica is in rotation while it answers and its replay lags at most
//   READ_REPLICA_MAX_LAG_MS behind the primary's WAL (checked every READ_REPLICA_CHECK_MS).
// - A replica's checkpoint rows are replicated in the same transactions as the rows they
//   cover, so a consistency wait looks at the checkpoint **on the replica the request
//   reads** (`reached`): a token is answered from a replica only once that replica has
//   replayed it; after READ_REPLICA_WAIT_MS the request reads the primary instead.
// - A query that finds its replica gone (connection refused, shut down, a recovery
//   conflict) runs again on the primary and takes the replica out of rotation until a
//   check finds it well: stopping a replica costs no request an error.
import pg from 'pg';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { Metrics } from '../observability/metrics.ts';
import { comparePositions, type Position } from '../outbox/position.ts';
import { VERSIONS_FROM } from './versions.ts';

export interface ReadSource {
  /** 'primary', or 'replica-<n>' (1-based, in READ_REPLICA_URLS order). */
  name: string;
  /** Its queries; a replica's run on the primary when the replica is gone. */
  pool: pg.Pool;
}

export interface ReplicaStatus {
  name: string;
  inRotation: boolean;
  /** How far its replay was behind the primary's WAL at the last check (null: unknown). */
  lagMs: number | null;
  lastError: string | null;
}

interface Replica extends ReplicaStatus {
  source: ReadSource;
  raw: pg.Pool;
}

export interface ReplicaOptions {
  maxLagMs: number;
  checkMs: number;
  waitMs: number;
  poolSize: number;
  log: Logger;
}

/** Errors that say the replica, not the query, is the problem. */
function replicaGone(error: unknown): boolean {
  return isDatabaseUnavailable(error) || (error as { code?: string } | null)?.code === '40001';
}

export class ReadSources {
  readonly primary: ReadSource;
  private readonly replicas: Replica[];
  private turn = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    primary: pg.Pool,
    urls: string[],
    readonly options: ReplicaOptions,
  ) {
    this.primary = { name: 'primary', pool: primary };
    this.replicas = urls.map((url, i) => {
      const raw = new pg.Pool({ connectionString: url, max: options.poolSize, connectionTimeoutMillis: 2_000 });
      // An idle connection that dies (the replica restarts) must not crash the process.
      raw.on('error', () => {});
      const replica: Replica = {
        name: `replica-${i + 1}`,
        inRotation: false,
        lagMs: null,
        lastError: null,
        raw,
        source: { name: `replica-${i + 1}`, pool: raw },
      };
      replica.source.pool = this.failover(replica);
      return replica;
    });
  }

  get enabled(): boolean {
    return this.replicas.length > 0;
  }

  /** Checks every replica once, then every checkMs. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.checkMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await Promise.all(this.replicas.map((r) => r.raw.end().catch(() => {})));
  }

  /** The source a request reads: the next replica in rotation, else the primary. */
  pick(): ReadSource {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const replica = this.replicas[(this.turn + i) % n]!;
      if (replica.inRotation) {
        this.turn = (this.turn + i + 1) % n;
        return replica.source;
      }
    }
    return this.primary;
  }

  statuses(): ReplicaStatus[] {
    return this.replicas.map(({ name, inRotation, lagMs, lastError }) => ({ name, inRotation, lagMs, lastError }));
  }

  /** The replica behind `source` (undefined: the primary). */
  private replicaOf(source: ReadSource): Replica | undefined {
    return this.replicas.find((r) => r.source === source);
  }

  /** Each projection's checkpoint on `source` (what its rows there reflect). */
  async positionsOn(source: ReadSource, projections: readonly string[]): Promise<Map<string, Position>> {
    const pool = this.replicaOf(source)?.raw ?? source.pool;
    const { rows } = await pool.query<{ name: string; tx_id: string; seq: string }>(
      'SELECT name, tx_id::text AS tx_id, seq::text AS seq FROM projection_checkpoints WHERE name = ANY($1::text[])',
      [projections],
    );
    return new Map(rows.map((r) => [r.name, { txId: BigInt(r.tx_id), seq: BigInt(r.seq) }]));
  }

  /**
   * Whether `source` has replayed `position` for every projection, waiting up to
   * waitMs (and never past `deadline`). The primary has: its wait came first.
   */
  async reached(source: ReadSource, projections: readonly string[], position: Position, deadline: number) {
    if (!this.replicaOf(source)) return true;
    const until = Math.min(deadline, Date.now() + this.options.waitMs);
    for (;;) {
      try {
        const positions = await this.positionsOn(source, projections);
        if (projections.every((p) => positions.has(p) && comparePositions(positions.get(p)!, position) >= 0)) {
          return true;
        }
      } catch (error) {
        if (!replicaGone(error)) throw error;
        this.takeOut(this.replicaOf(source)!, error);
        return false;
      }
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private failover(replica: Replica): pg.Pool {
    const primary = this.primary.pool;
    const query = async (...args: unknown[]) => {
      try {
        return await (replica.raw.query as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        if (!replicaGone(error)) throw error;
        this.takeOut(replica, error);
        return (primary.query as (...a: unknown[]) => Promise<unknown>)(...args);
      }
    };
    // Read-model queries use `query` only (no checked-out clients, no transactions).
    // The read models' versions are the replica's own (see read/versions.ts).
    return { query, [VERSIONS_FROM]: replica.raw } as unknown as pg.Pool;
  }

  private takeOut(replica: Replica, error: unknown): void {
    if (replica.inRotation) {
      this.options.log.warn({ replica: replica.name, err: error }, 'read replica out of rotation; reading the primary');
    }
    replica.inRotation = false;
    replica.lastError = error instanceof Error ? error.message : String(error);
  }

  /** One round of checks: the primary's WAL position, then each replica's replay against it. */
  private check(): Promise<void> {
    this.checking ??= (async () => {
      try {
        const { rows } = await this.primary.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
        await Promise.all(this.replicas.map((r) => this.checkOne(r, rows[0]!.lsn)));
      } catch (error) {
        // The primary is away: the replicas keep their state until it answers again.
        this.options.log.debug({ err: error }, 'read replica check skipped: the primary did not answer');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async checkOne(replica: Replica, primaryLsn: string): Promise<void> {
    try {
      const { rows } = await replica.raw.query<{ recovery: boolean; caught_up: boolean | null; behind_ms: number }>(
        `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up,
                coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0)::float8 AS behind_ms`,
        [primaryLsn],
      );
      const row = rows[0]!;
      if (!row.recovery) throw new Error(`${replica.name} is not a standby (pg_is_in_recovery() is false)`);
      replica.lagMs = row.caught_up ? 0 : Math.round(row.behind_ms);
      const well = replica.lagMs <= this.options.maxLagMs;
      if (well && !replica.inRotation) this.options.log.info({ replica: replica.name }, 'read replica in rotation');
      if (!well && replica.inRotation) {
        this.options.log.warn({ replica: replica.name, lagMs: replica.lagMs }, 'read replica lags; out of rotation');
      }
      replica.inRotation = well;
      replica.lastError = well
        ? null
        : `replay ${replica.lagMs} ms behind (READ_REPLICA_MAX_LAG_MS ${this.options.maxLagMs})`;
    } catch (error) {
      replica.lagMs = null;
      this.takeOut(replica, error);
    }
  }
}

/**
 * `parallax_read_replica_in_rotation` and `parallax_read_replica_lag_seconds`, per replica, as of the last check
 * (registered without replicas too, empty, so dashboards and alerts always find them).
 */
export function replicaMetrics(metrics: Metrics, reads: ReadSources): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'parallax_read_replica_in_rotation',
    help: '1 while the read replica serves queries; 0 while it is down or lags past READ_REPLICA_MAX_LAG_MS.',
    labelNames: ['replica'] as const,
    registers,
    collect() {
      this.reset();
      for (const r of reads.statuses()) this.set({ replica: r.name }, r.inRotation ? 1 : 0);
    },
  });
  new Gauge({
    name: 'parallax_read_replica_lag_seconds',
    help: "How far the replica's replay was behind the primary's WAL at the last check (absent: unknown).",
    labelNames: ['replica'] as const,
    registers,
    collect() {
      this.reset();
      for (const r of reads.statuses()) if (r.lagMs !== null) this.set({ replica: r.name }, r.lagMs / 1000);
    },
  });
}
