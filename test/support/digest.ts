// A digest of every read-model table's rows (in a fixed order): two databases, or one
// before and after a rebuild, hold the same read models when their digests are equal.
// No test runner imports here: the benchmarks use it too.
import type pg from 'pg';
import { ALL_PROJECTIONS } from '../../src/readModels/registry.ts';

export async function readModelDigests(pool: pg.Pool): Promise<Record<string, string | null>> {
  const digests: Record<string, string | null> = {};
  for (const table of ALL_PROJECTIONS.flatMap((p) => p.tables)) {
    const { rows } = await pool.query<{ d: string | null }>(
      `SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) AS d FROM ${table} AS r`,
    );
    digests[table] = rows[0]?.d ?? null;
  }
  return digests;
}
