// Verification: recompute a read model from the write tables and compare it, row by
// row and field by field, with what the projection holds. Reads only (no locks that
// block writes); run it when the projection has caught up, or expect the lag to show
// up as differences.

import type { Sql } from '../db/sql.ts';
import type { Projection, ProjectionName } from './projection.ts';

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
}

function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

export async function verify(sql: Sql, projection: Projection, maxDifferences = 100): Promise<VerificationReport> {
  const differences: RowDifference[] = [];
  let rowsChecked = 0;
  for (const check of projection.checks) {
    const [expected, actual] = [await sql.query(check.expected), await sql.query(check.actual)];
    const keyOf = (row: Record<string, unknown>) => check.key.map((k) => String(row[k])).join('|');
    const keyObject = (row: Record<string, unknown>) => Object.fromEntries(check.key.map((k) => [k, row[k]]));
    const actualByKey = new Map(actual.map((row) => [keyOf(row), row]));
    for (const want of expected) {
      rowsChecked += 1;
      const key = keyOf(want);
      const have = actualByKey.get(key);
      actualByKey.delete(key);
      if (!have) {
        differences.push({ table: check.table, key: keyObject(want), kind: 'MISSING', fields: [] });
        continue;
      }
      const fields = Object.keys(want)
        .filter((f) => JSON.stringify(normalize(want[f])) !== JSON.stringify(normalize(have[f])))
        .map((f) => ({ field: f, expected: normalize(want[f]), actual: normalize(have[f]) }));
      if (fields.length) differences.push({ table: check.table, key: keyObject(want), kind: 'DIFFERENT', fields });
    }
    for (const extra of actualByKey.values()) {
      differences.push({ table: check.table, key: keyObject(extra), kind: 'EXTRA', fields: [] });
    }
  }
  return { projection: projection.name, rowsChecked, differences: differences.slice(0, maxDifferences) };
}
