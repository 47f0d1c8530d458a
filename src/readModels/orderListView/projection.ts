// order_list_view: one row per order with the customer's name denormalized, totals
// pre-computed, and its lines in order_list_view_items.
//
// Set-based (projections/setBased.ts): `evolve` says what each order event does to a
// row, its lines are child rows, and one update per batch rewrites the rows of created,
// renamed or erased customers.

import type { Sql } from '../../db/sql.ts';
import { type OrderEvent, unitsOf } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import { comparePositions, type Position } from '../../outbox/position.ts';
import { type CustomerCopies, idKey } from '../../projections/customers.ts';
import type { Projection, ReadModelChange } from '../../projections/projection.ts';
import { applySetBased, type SetBasedModel, skipSetBased } from '../../projections/setBased.ts';
import { tableFor } from '../../projections/shapes.ts';
import { selectList } from '../../projections/tables.ts';
import { definition } from './definition.ts';
import { LINES_TABLE, LIST_TABLE, type ListRow } from './table.ts';
import { checks } from './verify.ts';

const NAME = 'order_list_view' as const;

/** The position of a row as published (snake_case). */
export function rowPosition(row: Record<string, unknown>): Position {
  return { txId: BigInt(String(row.position_tx_id)), seq: BigInt(String(row.position_seq)) };
}

/** As published to subscribers: snake_case, the columns' own names (per table shape, see shapes.ts). */
const columnsByShape = new WeakMap<object, string>();
function publishedColumns(table: typeof LIST_TABLE): string {
  let columns = columnsByShape.get(table);
  if (!columns) {
    columns = selectList(table, 'order_list_view', 'column');
    columnsByShape.set(table, columns);
  }
  return columns;
}

/** The batch's rows and lines, as a set-based model (projections/setBased.ts). */
export const orderListViewModel: SetBasedModel<ListRow> = {
  name: NAME,
  table: LIST_TABLE,
  evolve(row, e, { customers, at }) {
    const { event } = e;
    switch (event.type) {
      case 'OrderCreated': {
        const { data } = event;
        const facts = customers.facts(data.customerId);
        return {
          orderId: data.orderId,
          customerId: data.customerId,
          customerName: facts.name,
          customerEmail: facts.email,
          status: 'PENDING',
          totalCents: data.total.amountCents,
          itemCount: unitsOf(data.items),
          lineCount: data.items.length,
          version: e.aggregateVersion,
          createdAt: data.createdAt,
          updatedAt: data.createdAt,
          position: e.position,
          currency: data.total.currency,
        };
      }
      case 'OrderItemAdded':
        return (
          row && {
            ...row,
            totalCents: event.data.total.amountCents,
            itemCount: row.itemCount + event.data.item.quantity,
            lineCount: row.lineCount + 1,
            updatedAt: at,
          }
        );
      case 'OrderStatusChanged':
      case 'OrderCancelled':
        return row && { ...row, status: event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to, updatedAt: at };
    }
  },
  children: [
    {
      table: LINES_TABLE,
      of: (row, { event }) =>
        (event.type === 'OrderCreated'
          ? event.data.items
          : event.type === 'OrderItemAdded'
            ? [event.data.item]
            : []
        ).map(({ unitPrice, ...line }) => ({ ...line, unitPriceCents: unitPrice.amountCents, orderId: row.orderId })),
    },
  ],
  afterRows: (sql, { customers }) => rewriteCustomers(sql, customers),
};

/**
 * Created, renamed and erased customers: every row of theirs takes the customer's name
 * (a creation and an erasure also set the email), and its position moves up to the
 * event's unless an event of the order itself came later.
 */
async function rewriteCustomers(sql: Sql, customers: CustomerCopies): Promise<void> {
  const rewrites = customers.rewritten;
  if (!rewrites.length) return;
  await sql.execute(
    `UPDATE order_list_view AS v
        SET customer_name = c.name,
            customer_email = CASE WHEN c.set_email THEN c.email ELSE v.customer_email END,
            position_tx_id = CASE WHEN (v.position_tx_id, v.position_seq) < (c.tx_id::xid8, c.seq)
                                  THEN c.tx_id::xid8 ELSE v.position_tx_id END,
            position_seq = CASE WHEN (v.position_tx_id, v.position_seq) < (c.tx_id::xid8, c.seq)
                                THEN c.seq ELSE v.position_seq END
       FROM unnest($1::uuid[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::bigint[])
            AS c(customer_id, name, set_email, email, tx_id, seq)
      WHERE v.customer_id = c.customer_id`,
    [
      rewrites.map((r) => r.customerId),
      rewrites.map((r) => r.name),
      rewrites.map((r) => r.email !== undefined),
      rewrites.map((r) => r.email ?? null),
      rewrites.map((r) => r.position.txId.toString()),
      rewrites.map((r) => r.position.seq.toString()),
    ],
  );
}

/** The status each order had before the batch's first status change of it (none: created in the batch or unchanged). */
function statusesBefore(events: StoredEvent[]): Map<string, string> {
  const before = new Map<string, string>();
  const created = new Set<string>();
  for (const e of events) {
    if (e.aggregateType !== 'Order') continue;
    const { event } = e as StoredEvent<OrderEvent>;
    const id = idKey(event.data.orderId);
    if (event.type === 'OrderCreated') created.add(id);
    else if ((event.type === 'OrderStatusChanged' || event.type === 'OrderCancelled') && !before.has(id)) {
      if (!created.has(id)) before.set(id, event.data.from);
    }
  }
  return before;
}

export const orderListViewProjection: Projection = {
  name: NAME,
  // 2: the currency column (table shape; see shapes.ts and README "Evolving events and read models").
  version: 2,
  tables: ['order_list_view', 'order_list_view_items'],
  definition,
  checks,
  apply: (sql, events) => applySetBased(sql, orderListViewModel, events),
  skip: (sql, events) => skipSetBased(sql, orderListViewModel, events),
  /**
   * Every row the batch's events are about, in its state now, whoever applied the event
   * (this batch, or an INLINE command before it). A row an INLINE command has already
   * taken past the batch is sent with the batch's end as its position: a client resuming
   * from it gets the row again later, never misses another. previous_status is the
   * status before the batch's first status change of the order: what a subscriber
   * filtered by status last saw, so it can tell the client to drop the row.
   */
  async changes(sql, events, _after, to) {
    const orderIds = new Set<string>();
    const customerIds = new Set<string>();
    for (const e of events) {
      if (e.aggregateType === 'Order') orderIds.add(idKey(e.aggregateId));
      else if (e.aggregateType === 'Customer') customerIds.add(idKey(e.aggregateId));
    }
    if (!orderIds.size && !customerIds.size) return [];
    const rows = await sql.query(
      `SELECT ${publishedColumns(tableFor(sql, NAME, LIST_TABLE))} FROM order_list_view WHERE order_id = ANY($1::uuid[]) OR customer_id = ANY($2::uuid[])`,
      [[...orderIds], [...customerIds]],
    );
    const before = statusesBefore(events);
    const end = { tx: to.txId.toString(), seq: to.seq.toString() };
    const changes = rows.map((row): ReadModelChange => {
      if (comparePositions(rowPosition(row), to) > 0) {
        row.position_tx_id = end.tx;
        row.position_seq = end.seq;
      }
      const previous = before.get(idKey(String(row.order_id)));
      if (previous && previous !== row.status) row.previous_status = previous;
      return { projection: NAME, key: String(row.order_id), row };
    });
    // Published in position order, so a subscriber's last position marks all it has seen.
    return changes.sort((a, b) => comparePositions(rowPosition(a.row), rowPosition(b.row)) || (a.key < b.key ? -1 : 1));
  },
};
