// Projector leases: which projector runs which projection. Every projector heartbeats,
// renews its leases, and takes (or gives back) leases until it holds its fair share:
// ceil(projections / live projectors). Takeover of a dead projector's projections
// happens once its leases expire (ttlMs); a projector that stops (SIGTERM) releases
// its leases at once and NOTIFYs, so the others take over without waiting.
import type pg from 'pg';
import type { Logger } from 'pino';
import { pgSql, type Sql } from '../db/sql.ts';

export const LEASE_CHANNEL = 'parallax_leases';

export interface LeaseOptions {
  pool: pg.Pool;
  owner: string;
  ttlMs: number;
  names: readonly string[];
  log: Logger;
  /** Called whenever the set of held projections changes. */
  onChange: (held: ReadonlySet<string>) => void;
}

export class LeaseManager {
  private held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  get owner(): string {
    return this.options.owner;
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  heldNames(): string[] {
    return [...this.held].sort();
  }

  async start(): Promise<void> {
    const sql = pgSql(this.options.pool);
    await sql.execute('INSERT INTO projection_leases (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING', [
      this.options.names,
    ]);
    await this.tick();
    this.schedule();
  }

  private nextDelayMs = 0;

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.tick().finally(() => this.schedule());
      },
      this.nextDelayMs || Math.floor(this.options.ttlMs / 3),
    );
  }

  /** Runs a lease round now (also on a peer's NOTIFY). */
  tick(): Promise<void> {
    this.ticking ??= this.round()
      .catch((error) => {
        // Cannot reach the database: our leases will expire; stop running them now.
        this.options.log.warn({ err: error }, 'lease round failed; giving up held projections');
        this.set(new Set());
      })
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private set(next: Set<string>): void {
    const changed = next.size !== this.held.size || [...next].some((n) => !this.held.has(n));
    this.held = next;
    if (changed) this.options.onChange(this.held);
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const sql = pgSql(this.options.pool);
    const { owner, ttlMs, names } = this.options;
    await sql.execute(
      `INSERT INTO projector_members (owner) VALUES ($1)
       ON CONFLICT (owner) DO UPDATE SET heartbeat_at = now()`,
      [owner],
    );
    const renewed = await sql.query<{ name: string }>(
      `UPDATE projection_leases SET expires_at = now() + make_interval(secs => $2::float8 / 1000)
        WHERE owner = $1 AND expires_at > now() RETURNING name`,
      [owner, ttlMs],
    );
    const held = new Set(renewed.map((r) => r.name));
    // A member is live while its heartbeat is younger than 2/3 of the lease: by the time
    // a dead member's leases expire, it no longer counts towards the fair share.
    const members = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM projector_members
        WHERE heartbeat_at > now() - make_interval(secs => $1::float8 * 2 / 3000)`,
      [ttlMs],
    );
    const share = Math.ceil(names.length / Math.max(1, members[0]?.n ?? 1));
    if (held.size > share) {
      // Someone joined: give back the surplus; they take it on their next round.
      const surplus = [...held].sort().slice(share);
      await this.release(sql, surplus);
      for (const name of surplus) held.delete(name);
    }
    for (const name of names) {
      if (held.size >= share) break;
      if (held.has(name)) continue;
      const taken = await sql.execute(
        `UPDATE projection_leases
            SET owner = $2, expires_at = now() + make_interval(secs => $3::float8 / 1000), acquired_at = now()
          WHERE name = $1 AND (owner IS NULL OR owner = $2 OR expires_at <= now())`,
        [name, owner, ttlMs],
      );
      if (taken) held.add(name);
    }
    this.set(held);
    // Wake up just after the next foreign lease expires, so a dead projector's work is
    // taken over right at the lease timeout, not up to a round later.
    const next = await sql.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms
         FROM projection_leases WHERE owner IS NOT NULL AND owner <> $1`,
      [owner],
    );
    const untilExpiry = next[0]?.ms;
    const round = Math.floor(ttlMs / 3);
    this.nextDelayMs =
      untilExpiry === null || untilExpiry === undefined ? round : Math.min(round, Math.max(20, untilExpiry + 20));
  }

  private async release(sql: Sql, names: string[]): Promise<void> {
    if (!names.length) return;
    await sql.execute(
      `UPDATE projection_leases SET owner = NULL, expires_at = now() WHERE owner = $1 AND name = ANY($2::text[])`,
      [this.options.owner, names],
    );
    await sql.execute(`SELECT pg_notify('${LEASE_CHANNEL}', $1)`, [this.options.owner]);
  }

  /** Gives every lease back at once and leaves the member list (graceful handover). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const sql = pgSql(this.options.pool);
    try {
      await this.release(sql, [...this.held]);
      await sql.execute('DELETE FROM projector_members WHERE owner = $1', [this.options.owner]);
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not release leases; they expire on their own');
    }
    this.set(new Set());
  }
}

/** Fencing: whether `owner` still holds the lease on `name`, read inside the caller's batch transaction. */
export async function leaseHeld(client: pg.ClientBase, name: string, owner: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM projection_leases WHERE name = $1 AND owner = $2 AND expires_at > now()',
    [name, owner],
  );
  return Boolean(rowCount);
}
