// What operators see of each projection: the `projections` query (and later metrics).
import type pg from 'pg';
import { type Config, projectionMode } from '../config.ts';
import { encodePosition } from '../outbox/position.ts';
import { type HorizonHolder, headPosition, horizonHolders, lagAfter } from '../outbox/sequencer.ts';
import { type ProjectionState, readCheckpoints } from './checkpoints.ts';
import { PROJECTION_NAMES } from './projection.ts';
import { pgSql } from './sql.ts';

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
}

export async function projectionStatuses(pool: pg.Pool, config: Config): Promise<ProjectionStatus[]> {
  const sql = pgSql(pool);
  const checkpoints = await readCheckpoints(sql);
  return Promise.all(
    checkpoints
      .filter((c) => (PROJECTION_NAMES as readonly string[]).includes(c.name))
      .map(async (c) => {
        const lag = await lagAfter(sql, c.position);
        return {
          name: c.name,
          mode: projectionMode(config, c.name),
          state: c.state,
          position: encodePosition(c.position),
          lagEvents: lag.events,
          lagMs: lag.ms,
          lastError: c.lastError,
          errorPosition: c.errorPosition ? encodePosition(c.errorPosition) : null,
          retries: c.retries,
          eventsApplied: c.eventsApplied,
          updatedAt: c.updatedAt,
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
