// order_list_view: one row per order with the customer's name denormalized, totals
// pre-computed, and its lines in order_list_view_items.
//
// A batch is applied set-based: the rows its order events touch are loaded (locked),
// every event is applied in memory in outbox order with the guards one statement per
// event would have (create only if absent, an item only on the version before it, a
// status only from an older version), and the results are written with a few
// statements whatever the batch size: new rows, changed rows, new lines, and one
// update per batch for the rows of created, renamed or erased customers. Every guard
// asks for the order's next version, so the apply is idempotent.

import type { Sql } from '../../db/sql.ts';
import type { OrderEvent, OrderLine } from '../../events/order.ts';
import type { StoredEvent } from '../../outbox/append.ts';
import { comparePositions, type Position } from '../../outbox/position.ts';
import { CustomerCopies, idKey, isCustomerEvent } from '../../projections/customers.ts';
import type { Projection, ReadModelChange } from '../../projections/projection.ts';
import { checks } from './verify.ts';

const NAME = 'order_list_view' as const;

const columns = (t: string) => `${t}.order_id::text AS order_id, ${t}.customer_id::text AS customer_id,
  ${t}.customer_name, ${t}.customer_email, ${t}.status, ${t}.total_cents::float8 AS total_cents, ${t}.item_count,
  ${t}.line_count, ${t}.version, ${t}.created_at, ${t}.updated_at, ${t}.position_tx_id::text AS position_tx_id,
  ${t}.position_seq::text AS position_seq`;
const COLUMNS = columns('order_list_view');

export function rowPosition(row: Record<string, unknown>): Position {
  return { txId: BigInt(String(row.position_tx_id)), seq: BigInt(String(row.position_seq)) };
}

/** A row as the batch sees it in memory. */
interface ViewRow {
  orderId: string;
  customerId: string;
  customerName: string | null;
  customerEmail: string | null;
  status: string;
  totalCents: number;
  itemCount: number;
  lineCount: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  position: Position;
  /** null: created in this batch. */
  statusBefore: string | null;
  changed: boolean;
}

interface Line extends OrderLine {
  orderId: string;
}

async function loadRows(sql: Sql, orderIds: string[]): Promise<Map<string, ViewRow>> {
  const rows = new Map<string, ViewRow>();
  if (!orderIds.length) return rows;
  const found = await sql.query<{
    order_id: string;
    customer_id: string;
    status: string;
    total_cents: number;
    item_count: number;
    line_count: number;
    version: number;
    updated_at: string;
    position_tx_id: string;
    position_seq: string;
  }>(
    `SELECT order_id::text AS order_id, customer_id::text AS customer_id, status, total_cents::float8 AS total_cents,
            item_count, line_count, version, to_json(updated_at)#>>'{}' AS updated_at,
            position_tx_id::text AS position_tx_id, position_seq::text AS position_seq
       FROM order_list_view WHERE order_id = ANY($1::uuid[])
      ORDER BY order_id FOR UPDATE`,
    [orderIds],
  );
  for (const r of found) {
    rows.set(idKey(r.order_id), {
      orderId: r.order_id,
      customerId: r.customer_id,
      customerName: null,
      customerEmail: null,
      status: r.status,
      totalCents: Number(r.total_cents),
      itemCount: Number(r.item_count),
      lineCount: Number(r.line_count),
      version: Number(r.version),
      createdAt: '',
      updatedAt: r.updated_at,
      position: rowPosition(r),
      statusBefore: r.status,
      changed: false,
    });
  }
  return rows;
}

/** Applies one order event to the rows in memory; false when it changes nothing. */
function applyOrderEvent(
  rows: Map<string, ViewRow>,
  lines: Line[],
  customers: CustomerCopies,
  e: StoredEvent<OrderEvent>,
): boolean {
  const { event } = e;
  const id = idKey(event.data.orderId);
  const row = rows.get(id);
  const at = e.occurredAt.toISOString();
  switch (event.type) {
    case 'OrderCreated': {
      if (row) return false;
      const { data } = event;
      const facts = customers.facts(data.customerId);
      rows.set(id, {
        orderId: data.orderId,
        customerId: data.customerId,
        customerName: facts.name,
        customerEmail: facts.email,
        status: 'PENDING',
        totalCents: data.totalCents,
        itemCount: data.items.reduce((n, l) => n + l.quantity, 0),
        lineCount: data.items.length,
        version: e.aggregateVersion,
        createdAt: data.createdAt,
        updatedAt: data.createdAt,
        position: e.position,
        statusBefore: null,
        changed: true,
      });
      for (const l of data.items) lines.push({ ...l, orderId: data.orderId });
      return true;
    }
    case 'OrderItemAdded': {
      if (!row || row.version !== e.aggregateVersion - 1) return false;
      const { item } = event.data;
      row.totalCents = event.data.totalCents;
      row.itemCount += item.quantity;
      row.lineCount += 1;
      row.version = e.aggregateVersion;
      row.updatedAt = at;
      row.position = e.position;
      row.changed = true;
      lines.push({ ...item, orderId: row.orderId });
      return true;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      if (!row || row.version !== e.aggregateVersion - 1) return false;
      row.status = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      row.version = e.aggregateVersion;
      row.updatedAt = at;
      row.position = e.position;
      row.changed = true;
      return true;
    }
  }
}

async function insertRows(sql: Sql, rows: ViewRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `INSERT INTO order_list_view (order_id, customer_id, customer_name, customer_email, status, total_cents,
                                  item_count, line_count, version, created_at, updated_at, position_tx_id, position_seq)
     SELECT r.order_id, r.customer_id, r.customer_name, r.customer_email, r.status, r.total_cents, r.item_count,
            r.line_count, r.version, r.created_at, r.updated_at, r.position_tx_id::xid8, r.position_seq
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::int[],
                   $9::int[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::bigint[])
            AS r(order_id, customer_id, customer_name, customer_email, status, total_cents, item_count, line_count,
                 version, created_at, updated_at, position_tx_id, position_seq)
     ON CONFLICT (order_id) DO NOTHING`,
    [
      rows.map((r) => r.orderId),
      rows.map((r) => r.customerId),
      rows.map((r) => r.customerName),
      rows.map((r) => r.customerEmail),
      rows.map((r) => r.status),
      rows.map((r) => r.totalCents),
      rows.map((r) => r.itemCount),
      rows.map((r) => r.lineCount),
      rows.map((r) => r.version),
      rows.map((r) => r.createdAt),
      rows.map((r) => r.updatedAt),
      rows.map((r) => r.position.txId.toString()),
      rows.map((r) => r.position.seq.toString()),
    ],
  );
}

async function updateRows(sql: Sql, rows: ViewRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.execute(
    `UPDATE order_list_view AS v
        SET status = r.status, total_cents = r.total_cents, item_count = r.item_count, line_count = r.line_count,
            version = r.version, updated_at = r.updated_at, position_tx_id = r.position_tx_id::xid8,
            position_seq = r.position_seq
       FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::int[], $7::timestamptz[],
                   $8::text[], $9::bigint[])
            AS r(order_id, status, total_cents, item_count, line_count, version, updated_at, position_tx_id,
                 position_seq)
      WHERE v.order_id = r.order_id`,
    [
      rows.map((r) => r.orderId),
      rows.map((r) => r.status),
      rows.map((r) => r.totalCents),
      rows.map((r) => r.itemCount),
      rows.map((r) => r.lineCount),
      rows.map((r) => r.version),
      rows.map((r) => r.updatedAt),
      rows.map((r) => r.position.txId.toString()),
      rows.map((r) => r.position.seq.toString()),
    ],
  );
}

async function insertLines(sql: Sql, lines: Line[]): Promise<void> {
  if (!lines.length) return;
  await sql.execute(
    `INSERT INTO order_list_view_items (order_id, line_no, product_id, sku, product_name, quantity, unit_price_cents)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[])
     ON CONFLICT (order_id, line_no) DO NOTHING`,
    [
      lines.map((l) => l.orderId),
      lines.map((l) => l.lineNo),
      lines.map((l) => l.productId),
      lines.map((l) => l.sku),
      lines.map((l) => l.productName),
      lines.map((l) => l.quantity),
      lines.map((l) => l.unitPriceCents),
    ],
  );
}

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
  version: 1,
  tables: ['order_list_view', 'order_list_view_items'],
  checks,
  async apply(sql, events) {
    const customers = await CustomerCopies.load(sql, NAME, events);
    const orderEvents = events.filter((e): e is StoredEvent<OrderEvent> => e.aggregateType === 'Order');
    const rows = await loadRows(sql, [...new Set(orderEvents.map((e) => idKey(e.event.data.orderId)))]);
    const lines: Line[] = [];
    for (const e of events) {
      if (isCustomerEvent(e)) customers.apply(e);
      else if (e.aggregateType === 'Order') applyOrderEvent(rows, lines, customers, e as StoredEvent<OrderEvent>);
    }
    const changedRows = [...rows.values()].filter((r) => r.changed);
    await insertRows(
      sql,
      changedRows.filter((r) => r.statusBefore === null),
    );
    await updateRows(
      sql,
      changedRows.filter((r) => r.statusBefore !== null),
    );
    await insertLines(sql, lines);
    await rewriteCustomers(sql, customers);
    await customers.save(sql);
  },
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
      `SELECT ${COLUMNS} FROM order_list_view WHERE order_id = ANY($1::uuid[]) OR customer_id = ANY($2::uuid[])`,
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
