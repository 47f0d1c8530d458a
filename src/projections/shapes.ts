// A read model's table shape belongs to its version: a version bump may add columns
// (each column says the version that brought it, `Column.since`). While a rebuild
// builds the new version in a shadow, the live tables keep the old shape, and the live
// projection goes on applying events to them in that shape; the shadow is written in
// the new one. So every transaction that writes a read model first learns which
// version's shape it writes:
//   - a live batch, a parked retry or skip: the live version (projection_versions),
//     read under the checkpoint lock, which the swap also holds;
//   - an INLINE apply: the live version, read FOR SHARE in the command's transaction
//     (the swap updates that row before it moves the tables, so the two serialize);
//   - a shadow batch and the swap's catch-up: the rebuild's version.
// The projection's code takes its tables as of that version through `tableFor(sql,
// name, table)`; with none set (tests, tools), a table has all its columns.
import type { Sql } from '../db/sql.ts';
import type { Projection } from './projection.ts';
import type { Column, Table } from './tables.ts';

const versionsBySql = new WeakMap<Sql, ReadonlyMap<string, number>>();

/** `sql`, writing read model `name` in its version `version`'s shape. */
export function atVersion(sql: Sql, name: string, version: number): Sql {
  const versioned: Sql = { query: (text, params) => sql.query(text, params), execute: (t, p) => sql.execute(t, p) };
  versionsBySql.set(versioned, new Map([...(versionsBySql.get(sql) ?? []), [name, version]]));
  return versioned;
}

/** `table` of read model `name` in the shape `sql` writes (all its columns when no version was set). */
export function tableFor<Row>(sql: Sql, name: string, table: Table<Row>): Table<Row> {
  const version = versionsBySql.get(sql)?.get(name);
  return version === undefined ? table : tableAt(table, version);
}

/** The version of `projection`'s live tables: projection_versions, else (never recorded) the code's. */
export async function liveVersion(sql: Sql, projection: Projection): Promise<number> {
  return (await liveVersions(sql, [projection.name])).get(projection.name) ?? projection.version;
}

/** The live versions of read models `names` (absent: never recorded). FOR SHARE: see the header. */
export async function liveVersions(sql: Sql, names: readonly string[], share = false): Promise<Map<string, number>> {
  const rows = await sql.query<{ name: string; version: number }>(
    `SELECT name, version FROM projection_versions WHERE name = ANY($1::text[]) ORDER BY name${share ? ' FOR SHARE' : ''}`,
    [names],
  );
  return new Map(rows.map((r) => [r.name, r.version]));
}

const tablesAt = new WeakMap<object, Map<number, Table<never>>>();

/** `table` as of version `version`: without the columns a later version brought (one object per version). */
export function tableAt<Row>(table: Table<Row>, version: number): Table<Row> {
  if (!table.columns.some((c) => c.since !== undefined)) return table;
  let byVersion = tablesAt.get(table);
  if (!byVersion) {
    byVersion = new Map();
    tablesAt.set(table, byVersion);
  }
  let at = byVersion.get(version) as Table<Row> | undefined;
  if (!at) {
    at = { ...table, columns: table.columns.filter((c: Column<Row>) => (c.since ?? 0) <= version) };
    byVersion.set(version, at as Table<never>);
  }
  return at;
}
