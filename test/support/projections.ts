import type pg from 'pg';
import { expect } from 'vitest';
import { type Pools, poolsOf } from '../../src/db/pools.ts';
import { pgSql } from '../../src/db/sql.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';
import { comparePositions, ZERO_POSITION } from '../../src/outbox/position.ts';
import { headPosition } from '../../src/outbox/reader.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import type { Projection } from '../../src/projections/projection.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../../src/projections/projection.ts';
import { ALL_PROJECTIONS, verifyProjection } from '../../src/readModels/registry.ts';

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until every named projection's checkpoint (read database) is at the outbox head (write database). */
export async function caughtUp(pool: Pools | pg.Pool, names: readonly string[] = PROJECTION_NAMES, timeoutMs = 60_000) {
  const { write, read } = poolsOf(pool);
  await until(
    'projections to catch up',
    async () => {
      const head = (await headPosition(pgSql(write))) ?? ZERO_POSITION;
      const checkpoints = await readCheckpoints(pgSql(read));
      return names.every((n) => {
        const c = checkpoints.find((cp) => cp.name === n);
        return c && comparePositions(c.position, head) >= 0;
      });
    },
    timeoutMs,
  );
}

/** Every read model equals its recomputation from the write tables. */
export async function expectReadModelsMatchWriteTables(
  pool: Pools | pg.Pool,
  names: readonly ProjectionName[] = PROJECTION_NAMES,
  options: { allowParked?: boolean } = {},
) {
  const { write, read } = poolsOf(pool);
  for (const name of names) {
    const report = await verifyProjection(pgSql(read), name, undefined, pgSql(write));
    expect(report.differences, `${name} differs from the write tables`).toEqual([]);
    if (!options.allowParked) expect(report.parked, `${name} has parked events`).toEqual([]);
    expect(report.rowsChecked, `${name} checked no rows`).toBeGreaterThan(0);
  }
}

/**
 * All projections, with order_search failing on any OrderCreated of the customer
 * `poisonCustomerId()` names (while it names one): a poison event for failure tests.
 */
export function withPoisonedSearch(poisonCustomerId: () => string | undefined): Projection[] {
  return ALL_PROJECTIONS.map((p) =>
    p.name !== 'order_search'
      ? p
      : {
          ...p,
          apply: (sql: Parameters<typeof p.apply>[0], events: StoredEvent[]) => {
            const poison = events.find(
              (e) => e.event.type === 'OrderCreated' && e.event.data.customerId === poisonCustomerId(),
            );
            if (poison) throw new Error(`cannot index order ${poison.aggregateId}`);
            return p.apply(sql, events);
          },
        },
  );
}
