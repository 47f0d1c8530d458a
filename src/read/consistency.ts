// Read-your-writes. One watcher per process knows the last committed position of each
// projection, from the bus (after-commit position messages). A request that must see a
// position waits on that shared knowledge; no request polls the database. While
// requests wait, the watcher also re-reads the checkpoints itself, once per interval
// for the whole process, so a lost bus message costs latency, never a wrong answer.
import type pg from 'pg';
import type { Bus, PositionMessage } from '../bus/bus.ts';
import { CHANNELS } from '../bus/bus.ts';
import { type Pools, poolsOf } from '../db/pools.ts';
import { pgSql } from '../db/sql.ts';
import { comparePositions, decodePosition, encodePosition, type Position, ZERO_POSITION } from '../outbox/position.ts';
import { lagAfter } from '../outbox/reader.ts';
import { readCheckpoints } from '../projections/checkpoints.ts';

export class ConsistencyTimeout extends Error {
  override name = 'ConsistencyTimeout';
  constructor(
    readonly projections: string[],
    readonly wanted: string,
    readonly timeoutMs: number,
  ) {
    super(`${projections.join(', ')} did not reach the requested position within ${timeoutMs} ms`);
  }
}

interface Waiter {
  projections: string[];
  target: Position;
  resolve: () => void;
}

export interface ReadModelFreshness {
  position: string;
  lagEvents: number;
  lagMs: number;
}

export const MAX_CONSISTENCY_TIMEOUT_MS = 30_000;

export class PositionWatcher {
  private readonly positions = new Map<string, Position>();
  private readonly waiters = new Set<Waiter>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private offConnection: (() => void) | undefined;
  private freshness: { at: number; value: Promise<Map<string, ReadModelFreshness>> } | undefined;

  /** Checkpoints are read from the read database, lag from the write database's outbox. */
  private readonly pools: Pools;

  constructor(
    pool: Pools | pg.Pool,
    private readonly bus: Bus,
    private readonly refreshMs = 250,
  ) {
    this.pools = poolsOf(pool);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(CHANNELS.positions, (message) => {
      const m = message as PositionMessage;
      this.advance(m.projection, decodePosition(m.position));
    });
    // Position messages published while the bus was away are lost: read the checkpoints.
    this.offConnection = this.bus.onConnectionChange?.((state) => {
      if (state === 'restored') this.refresh().catch(() => {});
    });
    await this.refresh();
  }

  stop(): void {
    this.unsubscribe?.();
    this.offConnection?.();
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  position(projection: string): Position {
    return this.positions.get(projection) ?? ZERO_POSITION;
  }

  advance(projection: string, position: Position): void {
    const known = this.positions.get(projection);
    if (known && comparePositions(known, position) >= 0) return;
    this.positions.set(projection, position);
    for (const waiter of this.waiters) {
      if (this.reached(waiter.projections, waiter.target)) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (!this.waiters.size) this.stopRefreshing();
  }

  private reached(projections: string[], target: Position): boolean {
    return projections.every((p) => comparePositions(this.position(p), target) >= 0);
  }

  private async refresh(): Promise<void> {
    for (const c of await readCheckpoints(pgSql(this.pools.read))) this.advance(c.name, c.position);
  }

  private stopRefreshing(): void {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /** Resolves once every projection has passed `token`; rejects with ConsistencyTimeout. */
  waitFor(projections: string[], token: string, timeoutMs: number): Promise<void> {
    const target = decodePosition(token);
    if (this.reached(projections, target)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        projections,
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        if (!this.waiters.size) this.stopRefreshing();
        reject(new ConsistencyTimeout(projections, token, timeoutMs));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.refreshTimer ??= setInterval(() => {
        this.refresh().catch(() => {});
      }, this.refreshMs);
    });
  }

  /**
   * Position and lag of each projection, for response extensions. Shared by all
   * requests of the process and recomputed at most once a second.
   */
  freshnessOf(projections: string[]): Promise<Record<string, ReadModelFreshness>> {
    const now = Date.now();
    if (!this.freshness || now - this.freshness.at > 1000) {
      const outbox = pgSql(this.pools.write);
      const value = readCheckpoints(pgSql(this.pools.read)).then(async (checkpoints) => {
        const map = new Map<string, ReadModelFreshness>();
        for (const c of checkpoints) {
          this.advance(c.name, c.position);
          const lag = await lagAfter(outbox, c.position);
          map.set(c.name, { position: encodePosition(c.position), lagEvents: lag.events, lagMs: lag.ms });
        }
        return map;
      });
      value.catch(() => {
        this.freshness = undefined;
      });
      this.freshness = { at: now, value };
    }
    // The position is the watcher's own (never older than the cached lag figures).
    return this.freshness.value.then((map) =>
      Object.fromEntries(
        projections.map((p) => [
          p,
          { lagEvents: 0, lagMs: 0, ...map.get(p), position: encodePosition(this.position(p)) },
        ]),
      ),
    );
  }
}
