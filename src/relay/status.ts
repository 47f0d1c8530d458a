// What operators see of each relay: the `relays` query, /metrics, /ops and the CLI.
import type pg from 'pg';
import { pgSql } from '../db/sql.ts';
import { encodePosition } from '../outbox/position.ts';
import { lagAfter } from '../outbox/reader.ts';
import { readRelayCheckpoints } from './checkpoint.ts';

export interface RelayStatus {
  name: string;
  position: string;
  lagEvents: number;
  lagMs: number;
  eventsPublished: number;
  /** The process running it, while its lease is live. */
  owner: string | null;
  leaseExpiresAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  updatedAt: Date;
}

/** Every relay that has run against this database (none: NATS_URL was never set). */
export async function relayStatuses(pool: pg.Pool): Promise<RelayStatus[]> {
  const sql = pgSql(pool);
  const checkpoints = await readRelayCheckpoints(sql);
  return Promise.all(
    checkpoints.map(async (c) => {
      const lag = await lagAfter(sql, c.position);
      return {
        name: c.name,
        position: encodePosition(c.position),
        lagEvents: lag.events,
        lagMs: lag.ms,
        eventsPublished: c.eventsPublished,
        owner: c.leaseLive ? c.owner : null,
        leaseExpiresAt: c.leaseLive ? c.leaseExpiresAt : null,
        lastError: c.lastError,
        lastErrorAt: c.lastErrorAt,
        updatedAt: c.updatedAt,
      };
    }),
  );
}
