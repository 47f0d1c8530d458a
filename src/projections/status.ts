// What operators see of each projection: the `projections` query (and later metrics).
import type pg from 'pg';
import { type Config, projectionMode } from '../config.ts';
import { type Pools, poolsOf } from '../db/pools.ts';
import { pgSql } from '../db/sql.ts';
import { encodePosition } from '../outbox/position.ts';
import { type HorizonHolder, headPosition, horizonHolders, lagAfter } from '../outbox/reader.ts';
import { type AuditSummary, lastAudits } from './audit.ts';
import { type ProjectionState, readCheckpoints } from './checkpoints.ts';
import { parkedSummaries } from './parking.ts';
import { PROJECTION_NAMES } from './projection.ts';
import { rebuildsInProgress } from './rebuild.ts';

export interface ProjectionStatus {
  name: string;
  mode: 'ASYNC' | 'INLINE';
  state: ProjectionState;
  position: string;
  lagEvents: number;
  lagMs: number;
  lastError: string | null;
  errorPosition: string | null;
  retries: number;
  eventsApplied: number;
  updatedAt: Date;
  version: number;
  rebuild: RebuildStatus | null;
  /** Events parked and not yet resolved (see parking.ts), and the aggregates they hold back. */
  parkedEvents: number;
  parkedAggregates: number;
  /** The last no-skip audit (see audit.ts); null before the first. */
  audit: AuditSummary | null;
  lastBatchAt: Date | null;
  /**
   * While events wait: time since the last committed batch or since the oldest waiting
   * event, whichever is shorter (a runner that stopped shows here); 0 when caught up.
   */
  idleMs: number;
}

/** How long a projection has had events waiting with no batch committing. */
export function idleMsOf(lag: { events: number; ms: number }, lastBatchAt: Date | null): number {
  if (lag.events === 0) return 0;
  return Math.min(lag.ms, lastBatchAt ? Math.max(0, Date.now() - lastBatchAt.getTime()) : lag.ms);
}

export interface RebuildStatus {
  version: number;
  reason: string;
  processed: number;
  total: number;
  etaMs: number | null;
  startedAt: Date;
  stalled: boolean;
  lastError: string | null;
}

/** Checkpoints and bookkeeping from the read database, lag from the write database's outbox. */
export async function projectionStatuses(pool: Pools | pg.Pool, config: Config): Promise<ProjectionStatus[]> {
  const pools = poolsOf(pool);
  const sql = pgSql(pools.read);
  const outbox = pgSql(pools.write);
  const checkpoints = await readCheckpoints(sql);
  const rebuilds = new Map((await rebuildsInProgress(sql)).map((r) => [r.name, r]));
  const [parked, audits] = await Promise.all([parkedSummaries(sql), lastAudits(sql)]);
  const versions = new Map(
    (await sql.query<{ name: string; version: number }>('SELECT name, version FROM projection_versions')).map((v) => [
      v.name,
      v.version,
    ]),
  );
  return Promise.all(
    checkpoints
      .filter((c) => (PROJECTION_NAMES as readonly string[]).includes(c.name))
      .map(async (c) => {
        const lag = await lagAfter(outbox, c.position);
        const r = rebuilds.get(c.name);
        const elapsed = r ? Date.now() - r.startedAt.getTime() : 0;
        return {
          name: c.name,
          mode: projectionMode(config, c.name),
          state: r && c.state === 'LIVE' ? 'REBUILDING' : c.state,
          version: versions.get(c.name) ?? 1,
          rebuild: r
            ? {
                version: r.version,
                reason: r.reason,
                processed: r.processed,
                total: r.totalEvents,
                etaMs: r.processed
                  ? Math.round((elapsed / r.processed) * Math.max(0, r.totalEvents - r.processed))
                  : null,
                startedAt: r.startedAt,
                stalled: r.stalled,
                lastError: r.lastError,
              }
            : null,
          position: encodePosition(c.position),
          lagEvents: lag.events,
          lagMs: lag.ms,
          lastError: c.lastError,
          errorPosition: c.errorPosition ? encodePosition(c.errorPosition) : null,
          retries: c.retries,
          eventsApplied: c.eventsApplied,
          updatedAt: c.updatedAt,
          parkedEvents: parked.get(c.name)?.events ?? 0,
          parkedAggregates: parked.get(c.name)?.aggregates ?? 0,
          audit: audits.get(c.name) ?? null,
          lastBatchAt: c.lastBatchAt,
          idleMs: idleMsOf(lag, c.lastBatchAt),
        };
      }),
  );
}

export interface OutboxStatus {
  head: string | null;
  horizonHolders: HorizonHolder[];
}

export async function outboxStatus(pool: pg.Pool): Promise<OutboxStatus> {
  const sql = pgSql(pool);
  const [head, holders] = await Promise.all([headPosition(sql), horizonHolders(sql)]);
  return { head: head ? encodePosition(head) : null, horizonHolders: holders };
}
