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
import { tableFor } from './shapes.ts';
import { insertRows, loadRows, type Table, updateRows } from './tables.ts';

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
    // evolve returns a new row (never the loaded one, which the batch's `before` keeps).
    const next: Row = evolved === row ? { ...evolved } : evolved;
    next.version = event.aggregateVersion;
    if (tracksPosition) next.position = event.position;
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
  // The tables in the shape this transaction writes (see shapes.ts).
  const table = tableFor(sql, model.name, model.table);
  const before = await loadRows(sql, table, [...new Set(orderEvents.map((e) => idKey(e.aggregateId)))]);
  const { rows, created, changed, children } = evolveBatch(model, before, events, customers);
  await insertRows(
    sql,
    table,
    [...created].map((id) => rows.get(id)!),
  );
  await updateRows(
    sql,
    table,
    [...changed].filter((id) => !created.has(id)).map((id) => rows.get(id)!),
  );
  for (const [i, child] of (model.children ?? []).entries()) {
    await insertRows(sql, tableFor(sql, model.name, child.table), children[i]!);
  }
  // After the rows: a name copied into an order created earlier in the batch is replaced too.
  await model.afterRows?.(sql, {
    customers,
    changed: [...new Set([...created, ...changed])].map((id) => ({ before: before.get(id), after: rows.get(id)! })),
  });
  if (model.customers !== false) await customers.save(sql);
}

/**
 * Skipped events (see parking.ts): each order's row goes to the last skipped version,
 * unchanged otherwise, so the order's later events (each applies only on the row's next
 * version) apply on top. An order whose creation was skipped has no row to move.
 */
export async function skipSetBased<Row extends VersionedRow>(
  sql: Sql,
  model: SetBasedModel<Row>,
  events: StoredEvent[],
): Promise<void> {
  const versions = new Map<string, number>();
  for (const e of events) {
    if (e.aggregateType !== 'Order') continue;
    const id = idKey(e.aggregateId);
    versions.set(id, Math.max(versions.get(id) ?? 0, e.aggregateVersion));
  }
  if (!versions.size) return;
  const key = model.table.columns.find((c) => c.field === model.table.key)!.column;
  await sql.execute(
    `UPDATE ${model.table.name} AS t SET version = s.version
       FROM unnest($1::uuid[], $2::int[]) AS s(id, version)
      WHERE t.${key} = s.id AND t.version < s.version`,
    [[...versions.keys()], [...versions.values()]],
  );
}
