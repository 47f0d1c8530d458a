// Verification: recompute a read model from the write tables and compare it, row by
// row and field by field, with what the projection holds. Reads only (no locks that
// block writes); run it when the projection has caught up, or expect the lag to show
// up as differences.

import type { Sql } from '../db/sql.ts';
import type { Projection, ProjectionName } from './projection.ts';
import { liveVersion } from './shapes.ts';

export interface RowDifference {
  table: string;
  key: Record<string, unknown>;
  kind: 'MISSING' | 'EXTRA' | 'DIFFERENT';
  fields: { field: string; expected: unknown; actual: unknown }[];
}

export interface VerificationReport {
  projection: ProjectionName;
  rowsChecked: number;
  differences: RowDifference[];
  /**
   * Aggregates with parked events (see parking.ts): their rows are expected to differ
   * until the events are retried, so differences of rows keyed by them are counted
   * here, not listed in `differences`. (Totals that sum many orders, like the analytics
   * buckets, cannot be told apart: a parked order's share shows in `differences`.)
   */
  parked: { aggregateType: string; aggregateId: string; events: number; differences: number }[];
}

function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

/**
 * `sql` is the read database (the read model, its parked events); `write` the write
 * tables the expected rows are recomputed from, when they are in another database.
 */
export async function verify(
  sql: Sql,
  projection: Projection,
  maxDifferences = 100,
  write: Sql = sql,
): Promise<VerificationReport> {
  const parked = (
    await sql.query<{ aggregate_type: string; aggregate_id: string; events: number }>(
      `SELECT aggregate_type, aggregate_id::text AS aggregate_id, count(*)::int AS events FROM parked_events
        WHERE projection = $1 AND state = 'PARKED' GROUP BY aggregate_type, aggregate_id ORDER BY aggregate_id`,
      [projection.name],
    )
  ).map((r) => ({ aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, events: r.events, differences: 0 }));
  const parkedById = new Map(parked.map((p) => [p.aggregateId.toLowerCase(), p]));
  const all: RowDifference[] = [];
  let rowsChecked = 0;
  // What the live tables' version has (a column a later version brings is checked once it is swapped in).
  const live = await liveVersion(sql, projection);
  for (const check of projection.checks.filter((c) => (c.since ?? 0) <= live)) {
    const [expected, actual] = [await write.query(check.expected), await sql.query(check.actual)];
    const keyOf = (row: Record<string, unknown>) => check.key.map((k) => String(row[k])).join('|');
    const keyObject = (row: Record<string, unknown>) => Object.fromEntries(check.key.map((k) => [k, row[k]]));
    const actualByKey = new Map(actual.map((row) => [keyOf(row), row]));
    for (const want of expected) {
      rowsChecked += 1;
      const key = keyOf(want);
      const have = actualByKey.get(key);
      actualByKey.delete(key);
      if (!have) {
        all.push({ table: check.table, key: keyObject(want), kind: 'MISSING', fields: [] });
        continue;
      }
      const fields = Object.keys(want)
        .filter((f) => JSON.stringify(normalize(want[f])) !== JSON.stringify(normalize(have[f])))
        .map((f) => ({ field: f, expected: normalize(want[f]), actual: normalize(have[f]) }));
      if (fields.length) all.push({ table: check.table, key: keyObject(want), kind: 'DIFFERENT', fields });
    }
    for (const extra of actualByKey.values()) {
      all.push({ table: check.table, key: keyObject(extra), kind: 'EXTRA', fields: [] });
    }
  }
  const differences = all.filter((d) => {
    const aggregate = Object.values(d.key)
      .map((v) => parkedById.get(String(v).toLowerCase()))
      .find(Boolean);
    if (aggregate) aggregate.differences += 1;
    return !aggregate;
  });
  return { projection: projection.name, rowsChecked, differences: differences.slice(0, maxDifferences), parked };
}
