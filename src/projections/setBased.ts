// The set-based projection skeleton every per-order read model uses. A read model gives
// its table description (one column list: field, column, SQL type) and a pure
// `evolve(row | undefined, event, context) → row | undefined`; the skeleton does the
// rest for a batch, whatever its size, in a few statements:
//   - loads (and locks, in key order) the rows the batch's order events touch;
//   - applies every event in outbox order in memory, with the version guards that make
//     the apply idempotent: a creation only where no row is, any other event only on
//     the row's next version (an event applied twice, INLINE and then by the engine, or
//     offered to a row that is behind changes nothing);
//   - writes new rows, changed rows and append-only child rows with one unnest
//     statement each, then the model's own batch step (customer rewrites), then the
//     projection's customer copies.
import type { Sql } from '../db/sql.ts';
import type { CustomerEvent } from '../events/customer.ts';
import type { OrderEvent } from '../events/order.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';
import { CustomerCopies, idKey, isCustomerEvent } from './customers.ts';

/** How a field travels: its SQL type (text[] and jsonb go as JSON text, a position as two columns). */
export type ColumnType = 'uuid' | 'text' | 'int' | 'bigint' | 'date' | 'timestamptz' | 'jsonb' | 'text[]' | 'position';

export interface Column<Row> {
  field: keyof Row & string;
  /** Column name; a 'position' column is the pair `<column>_tx_id`, `<column>_seq`. */
  column: string;
  type: ColumnType;
  /** Written when the row is created, never updated by an event (keys, creation facts, customer copies). */
  fixed?: boolean;
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

/** What `evolve` may read besides the row and the event. */
export interface EvolveContext {
  /** The projection's copy of customer names and emails, as of this event. */
  customers: Pick<CustomerCopies, 'facts'>;
  /** When the event occurred (ISO 8601). */
  at: string;
}

/** A per-order row: the skeleton keeps its version (and position, where the table has one). */
export interface VersionedRow {
  version: number;
  position?: Position;
}

export interface SetBasedModel<Row extends VersionedRow> {
  name: string;
  table: Table<Row>;
  /** Pure: the row after the event, or undefined when the event does not change it. */
  evolve(row: Row | undefined, event: StoredEvent<OrderEvent>, context: EvolveContext): Row | undefined;
  /** Append-only child rows an applied event adds (order lines, search terms). */
  // biome-ignore lint/suspicious/noExplicitAny: each child table has its own row type.
  children?: { table: Table<any>; of(row: Row, event: StoredEvent<OrderEvent>): object[] }[];
  /** Whether evolve reads customer names (false: the projection keeps no customer copies). */
  customers?: boolean;
  /**
   * After the rows: writes for the batch as a whole, e.g. rows of renamed or erased
   * customers, or totals from each changed row's state before and after the batch.
   */
  afterRows?(sql: Sql, batch: Batch<Row>): Promise<void>;
}

export interface Batch<Row> {
  customers: CustomerCopies;
  /** Every row the batch changed, before (undefined: created) and after. */
  changed: { before: Row | undefined; after: Row }[];
}

interface Parameter {
  field: string;
  name: string;
  type: ColumnType;
}

function columnsOf<Row>(columns: Column<Row>[]): Parameter[] {
  return columns.flatMap((c): Parameter[] =>
    c.type === 'position'
      ? [
          { field: `${c.field}.txId`, name: `${c.column}_tx_id`, type: 'position' },
          { field: `${c.field}.seq`, name: `${c.column}_seq`, type: 'bigint' },
        ]
      : [{ field: c.field, name: c.column, type: c.type }],
  );
}

/**
 * The SELECT list of a table's columns: named by field for `rowFrom` (the one row
 * mapper), or by column ('column': snake_case, timestamps as they are) for rows published as read.
 */
export function selectList<Row>(table: Table<Row>, alias = table.name, names: 'field' | 'column' = 'field'): string {
  return table.columns
    .map((c) => {
      const col = `${alias}.${c.column}`;
      const as = names === 'field' ? `"${c.field}"` : c.column;
      switch (c.type) {
        case 'uuid':
          return `${col}::text AS ${as}`;
        case 'bigint':
          return `${col}::float8 AS ${as}`;
        case 'date':
          return `${col}::text AS ${as}`;
        case 'timestamptz':
          return names === 'field' ? `to_json(${col})#>>'{}' AS ${as}` : `${col} AS ${as}`;
        case 'jsonb':
          return `${col}::text AS ${as}`;
        case 'text[]':
          return `array_to_json(${col})::text AS ${as}`;
        case 'position':
          return names === 'field'
            ? `${col}_tx_id::text AS "${c.field}TxId", ${col}_seq::text AS "${c.field}Seq"`
            : `${col}_tx_id::text AS ${c.column}_tx_id, ${col}_seq::text AS ${c.column}_seq`;
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

function parameterValue(row: Record<string, unknown>, field: string, type: ColumnType): unknown {
  const [name, part] = field.split('.') as [string, 'txId' | 'seq' | undefined];
  const value = part ? (row[name] as Position)[part] : row[name];
  if (type === 'jsonb' || type === 'text[]') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  return value ?? null;
}

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
    params: columns.map((c) => rows.map((r) => parameterValue(r as Record<string, unknown>, c.field, c.type))),
  };
}

export async function insertRows<Row>(sql: Sql, table: Table<Row>, rows: object[]): Promise<void> {
  if (!rows.length) return;
  const columns = columnsOf(table.columns);
  const { from, params } = unnest(columns, rows);
  const conflict = table.conflict ?? [table.columns.find((c) => c.field === table.key)!.column];
  const inserted = await sql.execute(
    `INSERT INTO ${table.name} (${columns.map((c) => c.name).join(', ')})
     SELECT ${columns.map((c) => fromParameter(c.name, c.type)).join(', ')} FROM ${from}
     ON CONFLICT (${conflict.join(', ')}) DO NOTHING`,
    params,
  );
  if (table.strictInsert && inserted !== rows.length) throw new Error(`${table.name} changed during the batch`);
}

async function updateRows<Row>(sql: Sql, table: Table<Row>, rows: Row[]): Promise<void> {
  if (!rows.length) return;
  const key = table.columns.find((c) => c.field === table.key)!;
  const columns = columnsOf(table.columns.filter((c) => c === key || !c.fixed));
  const { from, params } = unnest(columns, rows as object[]);
  await sql.execute(
    `UPDATE ${table.name} AS t
        SET ${columns
          .filter((c) => c.name !== key.column)
          .map((c) => `${c.name} = ${fromParameter(c.name, c.type)}`)
          .join(', ')}
       FROM ${from}
      WHERE t.${key.column} = r.${key.column}`,
    params,
  );
}

async function loadRows<Row>(sql: Sql, table: Table<Row>, ids: string[]): Promise<Map<string, Row>> {
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

/** What a batch did to a read model in memory: its rows now, which it created or changed, their child rows. */
export interface EvolvedBatch<Row> {
  rows: Map<string, Row>;
  created: Set<string>;
  changed: Set<string>;
  /** Per child table of the model, the rows the batch adds. */
  children: object[][];
}

/**
 * The batch in memory, without a database: every event in outbox order, with the
 * version guards (a creation only where no row is, any other event only on the row's
 * next version). `rows` are the rows the batch's orders had (keyed by idKey); customer
 * events go to `customers` first, so an order created later in the batch sees them.
 */
export function evolveBatch<Row extends VersionedRow>(
  model: SetBasedModel<Row>,
  loaded: Map<string, Row>,
  events: StoredEvent[],
  customers: Pick<CustomerCopies, 'facts' | 'apply'>,
): EvolvedBatch<Row> {
  const rows = new Map(loaded);
  const created = new Set<string>();
  const changed = new Set<string>();
  const children = (model.children ?? []).map(() => [] as object[]);
  const tracksPosition = model.table.columns.some((c) => c.field === 'position');
  for (const e of events) {
    if (isCustomerEvent(e)) {
      if (model.customers !== false) customers.apply(e as StoredEvent<CustomerEvent>);
      continue;
    }
    if (e.aggregateType !== 'Order') continue;
    const event = e as StoredEvent<OrderEvent>;
    const id = idKey(event.aggregateId);
    const row = rows.get(id);
    const creation = event.event.type === 'OrderCreated';
    if (creation ? row !== undefined : row === undefined || row.version !== event.aggregateVersion - 1) continue;
    const evolved = model.evolve(row, event, { customers, at: event.occurredAt.toISOString() });
    if (!evolved) continue;
    const next: Row = {
      ...evolved,
      version: event.aggregateVersion,
      ...(tracksPosition ? { position: event.position } : {}),
    };
    rows.set(id, next);
    (creation ? created : changed).add(id);
    model.children?.forEach((child, i) => {
      children[i]!.push(...child.of(next, event));
    });
  }
  return { rows, created, changed, children };
}

/** Applies a batch of events to a set-based read model inside the caller's transaction. */
export async function applySetBased<Row extends VersionedRow>(
  sql: Sql,
  model: SetBasedModel<Row>,
  events: StoredEvent[],
): Promise<void> {
  const customers = await CustomerCopies.load(sql, model.name, model.customers === false ? [] : events);
  const orderEvents = events.filter((e): e is StoredEvent<OrderEvent> => e.aggregateType === 'Order');
  const before = await loadRows(sql, model.table, [...new Set(orderEvents.map((e) => idKey(e.aggregateId)))]);
  const { rows, created, changed, children } = evolveBatch(model, before, events, customers);
  await insertRows(
    sql,
    model.table,
    [...created].map((id) => rows.get(id)!),
  );
  await updateRows(
    sql,
    model.table,
    [...changed].filter((id) => !created.has(id)).map((id) => rows.get(id)!),
  );
  for (const [i, child] of (model.children ?? []).entries()) await insertRows(sql, child.table, children[i]!);
  // After the rows: a name copied into an order created earlier in the batch is replaced too.
  await model.afterRows?.(sql, {
    customers,
    changed: [...new Set([...created, ...changed])].map((id) => ({ before: before.get(id), after: rows.get(id)! })),
  });
  if (model.customers !== false) await customers.save(sql);
}
