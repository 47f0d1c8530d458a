// A read-model table described once (field, column, SQL type per column), and what
// the set-based skeleton (setBased.ts) and the readers do with that description: the
// SELECT list and its one row mapper, and the set-based writes (one unnest statement
// for any number of rows).
import type { Sql } from '../db/sql.ts';
import type { Position } from '../outbox/position.ts';
import { idKey } from './customers.ts';

/** How a field travels: its SQL type (text[] and jsonb go as JSON text, a position as two columns). */
export type ColumnType = 'uuid' | 'text' | 'int' | 'bigint' | 'date' | 'timestamptz' | 'jsonb' | 'text[]' | 'position';

export interface Column<Row> {
  field: keyof Row & string;
  /** Column name; a 'position' column is the pair `<column>_tx_id`, `<column>_seq`. */
  column: string;
  type: ColumnType;
  /** Written when the row is created, never updated by an event (keys, creation facts, customer copies). */
  fixed?: boolean;
  /**
   * The read model's version that brought the column (absent: there from the start).
   * Tables of an earlier version lack it: see shapes.ts (writes) and `selectList` (reads).
   */
  since?: number;
}

export interface Table<Row> {
  name: string;
  columns: Column<Row>[];
  /** The field rows are found, locked and updated by. */
  key: keyof Row & string;
  /** ON CONFLICT target of the insert (default: the key's column). */
  conflict?: string[];
  /** Lock order of the load (default: the key's column). */
  lockOrder?: string[];
  /**
   * A row inserted by another transaction after the load fails the batch (it is applied
   * again): for tables whose rows feed additive totals, where applying a creation twice
   * would count it twice. Otherwise such a row is left as it is (it holds the same creation).
   */
  strictInsert?: boolean;
}

interface Parameter {
  name: string;
  type: ColumnType;
  /** The value sent for a row: JSON text for jsonb and text[], decimal text for a position's parts. */
  value(row: Record<string, unknown>): unknown;
}

function parameter(field: string, name: string, type: ColumnType): Parameter {
  const json = type === 'jsonb' || type === 'text[]';
  return { name, type, value: json ? (row) => JSON.stringify(row[field]) : (row) => row[field] ?? null };
}

const parametersByColumns = new WeakMap<object, Parameter[]>();

/** The parameters of `columns` (computed once per column list). */
function columnsOf<Row>(columns: Column<Row>[]): Parameter[] {
  let parameters = parametersByColumns.get(columns);
  if (!parameters) {
    parameters = columns.flatMap((c): Parameter[] =>
      c.type === 'position'
        ? [
            { name: `${c.column}_tx_id`, type: 'position', value: (row) => (row[c.field] as Position).txId.toString() },
            { name: `${c.column}_seq`, type: 'bigint', value: (row) => (row[c.field] as Position).seq.toString() },
          ]
        : [parameter(c.field, c.column, c.type)],
    );
    parametersByColumns.set(columns, parameters);
  }
  return parameters;
}

const SQL_TYPE: Record<Exclude<ColumnType, 'position' | 'text[]'>, string> = {
  uuid: 'uuid',
  text: 'text',
  int: 'int',
  bigint: 'bigint',
  date: 'date',
  timestamptz: 'timestamptz',
  jsonb: 'jsonb',
};

/**
 * `alias.column`, or, for a column the table may not have yet (`tolerant`), the same
 * value read from the row as JSON: null where the table lacks the column.
 */
function columnRef(alias: string, column: string, type: ColumnType, tolerant: boolean): string {
  if (!tolerant) return `${alias}.${column}`;
  if (type === 'text[]') return `ARRAY(SELECT jsonb_array_elements_text(to_jsonb(${alias}) -> '${column}'))`;
  const cast = type === 'position' ? (column.endsWith('_seq') ? 'bigint' : 'xid8') : SQL_TYPE[type];
  return `(to_jsonb(${alias}) ->> '${column}')::${cast}`;
}

/**
 * The SELECT list of a table's columns: named by field for `rowFrom` (the one row
 * mapper), or by column ('column': snake_case) for rows published as read; timestamps
 * as ISO text (what `rowFrom` keeps) or as the driver returns them ('raw': Date).
 * With `known`, the version the table is known to have reached: a column a later
 * version brought is read tolerantly (null while the table lacks it, see columnRef),
 * so a reader is never ahead of the table it reads.
 */
export function selectList<Row>(
  table: Table<Row>,
  alias = table.name,
  names: 'field' | 'column' = 'field',
  timestamps: 'text' | 'raw' = names === 'field' ? 'text' : 'raw',
  known = Number.POSITIVE_INFINITY,
): string {
  return table.columns
    .map((c) => {
      const tolerant = (c.since ?? 0) > known;
      const col = columnRef(alias, c.column, c.type, tolerant);
      const as = names === 'field' ? `"${c.field}"` : c.column;
      switch (c.type) {
        case 'uuid':
          return `${col}::text AS ${as}`;
        case 'bigint':
          return `${col}::float8 AS ${as}`;
        case 'date':
          return `${col}::text AS ${as}`;
        case 'timestamptz':
          return timestamps === 'text' ? `to_json(${col})#>>'{}' AS ${as}` : `${col} AS ${as}`;
        case 'jsonb':
          return `${col}::text AS ${as}`;
        case 'text[]':
          return `array_to_json(${col})::text AS ${as}`;
        case 'position': {
          const [tx, seq] = [
            columnRef(alias, `${c.column}_tx_id`, c.type, tolerant),
            columnRef(alias, `${c.column}_seq`, c.type, tolerant),
          ];
          return names === 'field'
            ? `${tx}::text AS "${c.field}TxId", ${seq}::text AS "${c.field}Seq"`
            : `${tx}::text AS ${c.column}_tx_id, ${seq}::text AS ${c.column}_seq`;
        }
        default:
          return `${col} AS ${as}`;
      }
    })
    .join(', ');
}

/** A row read with `selectList`, in memory. */
export function rowFrom<Row>(table: Table<Row>, record: Record<string, unknown>): Row {
  const row: Record<string, unknown> = {};
  for (const c of table.columns) {
    const value = record[c.field];
    switch (c.type) {
      case 'int':
      case 'bigint':
        row[c.field] = value === null ? null : Number(value);
        break;
      case 'jsonb':
      case 'text[]':
        row[c.field] = value === null ? null : JSON.parse(String(value));
        break;
      case 'position':
        row[c.field] = {
          txId: BigInt(String(record[`${c.field}TxId`])),
          seq: BigInt(String(record[`${c.field}Seq`])),
        };
        break;
      default:
        row[c.field] = value;
    }
  }
  return row as Row;
}

/**
 * A row as readers see it, from a record named by column (a change as the projection
 * publishes it): numbers as numbers, timestamps as Date, JSON parsed, a position as its
 * two decimal strings (`<field>TxId`, `<field>Seq`).
 */
export function viewFromColumns<Row, View>(table: Table<Row>, record: Record<string, unknown>): View {
  const view: Record<string, unknown> = {};
  for (const c of table.columns) {
    if (c.type === 'position') {
      view[`${c.field}TxId`] = String(record[`${c.column}_tx_id`]);
      view[`${c.field}Seq`] = String(record[`${c.column}_seq`]);
      continue;
    }
    const value = record[c.column] ?? null;
    if (value === null) view[c.field] = null;
    else if (c.type === 'int' || c.type === 'bigint') view[c.field] = Number(value);
    else if (c.type === 'timestamptz') view[c.field] = new Date(value as string);
    else if (c.type === 'jsonb' || c.type === 'text[]')
      view[c.field] = typeof value === 'string' ? JSON.parse(value) : value;
    else view[c.field] = value;
  }
  return view as View;
}

const ARRAY_TYPE: Record<ColumnType, string> = {
  uuid: 'uuid[]',
  text: 'text[]',
  int: 'int[]',
  bigint: 'bigint[]',
  date: 'date[]',
  timestamptz: 'timestamptz[]',
  jsonb: 'text[]',
  'text[]': 'text[]',
  position: 'text[]',
};

/** `r.<column>` as the column's own type, from the unnest of text or typed arrays. */
function fromParameter(name: string, type: ColumnType): string {
  if (type === 'jsonb') return `r.${name}::jsonb`;
  if (type === 'text[]') return `ARRAY(SELECT jsonb_array_elements_text(r.${name}::jsonb))`;
  if (type === 'position') return `r.${name}::xid8`;
  return `r.${name}`;
}

function unnest(columns: Parameter[], rows: object[]) {
  return {
    from: `unnest(${columns.map((c, i) => `$${i + 1}::${ARRAY_TYPE[c.type]}`).join(', ')}) AS r(${columns.map((c) => c.name).join(', ')})`,
    params: columns.map((c) => rows.map((r) => c.value(r as Record<string, unknown>))),
  };
}

export async function insertRows<Row>(sql: Sql, table: Table<Row>, rows: object[]): Promise<void> {
  if (!rows.length) return;
  const columns = columnsOf(table.columns);
  const { from, params } = unnest(columns, rows);
  const conflict = uniqueColumns(table);
  const inserted = await sql.execute(
    `INSERT INTO ${table.name} (${columns.map((c) => c.name).join(', ')})
     SELECT ${columns.map((c) => fromParameter(c.name, c.type)).join(', ')} FROM ${from}
     ON CONFLICT (${conflict.join(', ')}) DO NOTHING`,
    params,
  );
  if (table.strictInsert && inserted !== rows.length) {
    // A concurrent INLINE command created one of the rows: the batch is retried (see failures.ts isTransient).
    throw Object.assign(new Error(`${table.name} changed during the batch`), { transient: true });
  }
}

/** The unique key's columns: the insert's conflict target and what an update matches rows on. */
function uniqueColumns<Row>(table: Table<Row>): string[] {
  return table.conflict ?? [table.columns.find((c) => c.field === table.key)!.column];
}

const updatableColumns = new WeakMap<object, Column<never>[]>();

/** The unique key's columns and the columns an event may change (computed once per table). */
function updatable<Row>(table: Table<Row>): Column<Row>[] {
  let columns = updatableColumns.get(table) as Column<Row>[] | undefined;
  if (!columns) {
    const unique = uniqueColumns(table);
    columns = table.columns.filter((c) => unique.includes(c.column) || !c.fixed);
    updatableColumns.set(table, columns as Column<never>[]);
  }
  return columns;
}

/** Updates rows by their unique key (all of it: a partial key may not find them through an index). */
export async function updateRows<Row>(sql: Sql, table: Table<Row>, rows: Row[]): Promise<void> {
  if (!rows.length) return;
  const unique = uniqueColumns(table);
  const columns = columnsOf(updatable(table));
  const { from, params } = unnest(columns, rows as object[]);
  await sql.execute(
    `UPDATE ${table.name} AS t
        SET ${columns
          .filter((c) => !unique.includes(c.name))
          .map((c) => `${c.name} = ${fromParameter(c.name, c.type)}`)
          .join(', ')}
       FROM ${from}
      WHERE ${unique.map((c) => `t.${c} = r.${c}`).join(' AND ')}`,
    params,
  );
}

export async function loadRows<Row>(sql: Sql, table: Table<Row>, ids: string[]): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  if (!ids.length) return rows;
  const key = table.columns.find((c) => c.field === table.key)!.column;
  const found = await sql.query(
    `SELECT ${selectList(table)} FROM ${table.name} WHERE ${key} = ANY($1::uuid[])
      ORDER BY ${(table.lockOrder ?? [key]).join(', ')} FOR UPDATE`,
    [ids],
  );
  for (const record of found) rows.set(idKey(String(record[table.key])), rowFrom(table, record));
  return rows;
}
