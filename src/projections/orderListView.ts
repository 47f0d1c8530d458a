// order_list_view: one row per order with the customer's name denormalized, totals
// pre-computed, and its lines in order_list_view_items.
import type { StoredEvent } from '../outbox/append.ts';
import { comparePositions, type Position } from '../outbox/position.ts';
import type { OrderEvent, OrderLine } from '../write/order/events.ts';
import { applyCustomerEvent, isCustomerEvent } from './customers.ts';
import type { Projection, ReadModelChange } from './projection.ts';
import type { Sql } from './sql.ts';

const NAME = 'order_list_view' as const;

const columns = (t: string) => `${t}.order_id::text AS order_id, ${t}.customer_id::text AS customer_id,
  ${t}.customer_name, ${t}.customer_email, ${t}.status, ${t}.total_cents::float8 AS total_cents, ${t}.item_count,
  ${t}.line_count, ${t}.version, ${t}.created_at, ${t}.updated_at, ${t}.position_tx_id::text AS position_tx_id,
  ${t}.position_seq::text AS position_seq`;
const COLUMNS = columns('order_list_view');

export function rowPosition(row: Record<string, unknown>): Position {
  return { txId: BigInt(String(row.position_tx_id)), seq: BigInt(String(row.position_seq)) };
}

async function insertItems(sql: Sql, orderId: string, lines: OrderLine[]): Promise<void> {
  await sql.execute(
    `INSERT INTO order_list_view_items (order_id, line_no, product_id, sku, product_name, quantity, unit_price_cents)
     SELECT $1::uuid, l.line_no, l.product_id, l.sku, l.product_name, l.quantity, l.unit_price_cents
       FROM unnest($2::int[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[])
            AS l(line_no, product_id, sku, product_name, quantity, unit_price_cents)
     ON CONFLICT (order_id, line_no) DO NOTHING`,
    [
      orderId,
      lines.map((l) => l.lineNo),
      lines.map((l) => l.productId),
      lines.map((l) => l.sku),
      lines.map((l) => l.productName),
      lines.map((l) => l.quantity),
      lines.map((l) => l.unitPriceCents),
    ],
  );
}

async function applyOrderEvent(sql: Sql, e: StoredEvent<OrderEvent>): Promise<Record<string, unknown>[]> {
  const { event } = e;
  const pos = [e.position.txId.toString(), e.position.seq.toString()];
  const at = e.occurredAt.toISOString();
  switch (event.type) {
    case 'OrderCreated': {
      const { data } = event;
      const lines = data.items;
      // One statement: customer facts, the row and its lines (lines only if the row is new).
      return sql.query(
        `WITH customer AS (
           SELECT name, email FROM projection_customers WHERE projection = '${NAME}' AND customer_id = $2::uuid
         ), inserted AS (
           INSERT INTO order_list_view (order_id, customer_id, customer_name, customer_email, status, total_cents,
                                        item_count, line_count, version, created_at, updated_at, position_tx_id, position_seq)
           SELECT $1::uuid, $2::uuid, (SELECT name FROM customer), (SELECT email FROM customer), 'PENDING', $3::bigint,
                  $4::int, $5::int, $6::int, $7::timestamptz, $7::timestamptz, $8::xid8, $9::bigint
           ON CONFLICT (order_id) DO NOTHING
           RETURNING ${COLUMNS}
         ), lines AS (
           INSERT INTO order_list_view_items (order_id, line_no, product_id, sku, product_name, quantity, unit_price_cents)
           SELECT $1::uuid, l.line_no, l.product_id, l.sku, l.product_name, l.quantity, l.unit_price_cents
             FROM unnest($10::int[], $11::uuid[], $12::text[], $13::text[], $14::int[], $15::int[])
                  AS l(line_no, product_id, sku, product_name, quantity, unit_price_cents)
            WHERE EXISTS (SELECT 1 FROM inserted)
           ON CONFLICT (order_id, line_no) DO NOTHING
         )
         SELECT * FROM inserted`,
        [
          data.orderId,
          data.customerId,
          data.totalCents,
          lines.reduce((n, l) => n + l.quantity, 0),
          lines.length,
          e.aggregateVersion,
          data.createdAt,
          ...pos,
          lines.map((l) => l.lineNo),
          lines.map((l) => l.productId),
          lines.map((l) => l.sku),
          lines.map((l) => l.productName),
          lines.map((l) => l.quantity),
          lines.map((l) => l.unitPriceCents),
        ],
      );
    }
    case 'OrderItemAdded': {
      const { item } = event.data;
      const rows = await sql.query(
        `UPDATE order_list_view
            SET total_cents = $2::bigint, item_count = item_count + $3::int, line_count = line_count + 1,
                version = $4::int, updated_at = $5::timestamptz, position_tx_id = $6::xid8, position_seq = $7::bigint
          WHERE order_id = $1::uuid AND version = $4::int - 1
         RETURNING ${COLUMNS}`,
        [event.data.orderId, event.data.totalCents, item.quantity, e.aggregateVersion, at, ...pos],
      );
      if (rows.length) await insertItems(sql, event.data.orderId, [item]);
      return rows;
    }
    case 'OrderStatusChanged':
    case 'OrderCancelled': {
      const to = event.type === 'OrderCancelled' ? 'CANCELLED' : event.data.to;
      // previous_status lets a subscription filtered by status tell a client to drop the row.
      return sql.query(
        `UPDATE order_list_view AS v
            SET status = $2, version = $3::int, updated_at = $4::timestamptz, position_tx_id = $5::xid8, position_seq = $6::bigint
           FROM (SELECT order_id, status FROM order_list_view WHERE order_id = $1::uuid FOR UPDATE) AS old
          WHERE v.order_id = old.order_id AND v.version < $3::int
         RETURNING ${columns('v')}, old.status AS previous_status`,
        [event.data.orderId, to, e.aggregateVersion, at, ...pos],
      );
    }
  }
}

export const orderListViewProjection: Projection = {
  name: NAME,
  version: 1,
  tables: ['order_list_view', 'order_list_view_items'],
  async apply(sql, events) {
    const changed = new Map<string, ReadModelChange>();
    const record = (rows: Record<string, unknown>[]) => {
      for (const row of rows) changed.set(String(row.order_id), { projection: NAME, key: String(row.order_id), row });
    };
    for (const e of events) {
      if (isCustomerEvent(e)) {
        if (!(await applyCustomerEvent(sql, NAME, e))) continue;
        const pos = [e.position.txId.toString(), e.position.seq.toString()];
        if (e.event.type === 'CustomerRenamed') {
          record(
            await sql.query(
              `UPDATE order_list_view SET customer_name = $2, position_tx_id = $3::xid8, position_seq = $4::bigint
                WHERE customer_id = $1::uuid RETURNING ${COLUMNS}`,
              [e.event.data.customerId, e.event.data.name, ...pos],
            ),
          );
        } else if (e.event.type === 'CustomerErased') {
          record(
            await sql.query(
              `UPDATE order_list_view SET customer_name = NULL, customer_email = NULL, position_tx_id = $2::xid8,
                      position_seq = $3::bigint
                WHERE customer_id = $1::uuid RETURNING ${COLUMNS}`,
              [e.event.data.customerId, ...pos],
            ),
          );
        }
      } else if (e.aggregateType === 'Order') {
        record(await applyOrderEvent(sql, e as StoredEvent<OrderEvent>));
      }
    }
    // Published in position order, so a subscriber's last position marks all it has seen.
    return [...changed.values()].sort((a, b) => comparePositions(rowPosition(a.row), rowPosition(b.row)));
  },
  async changesFor(sql, events) {
    const orderIds = events.filter((e) => e.aggregateType === 'Order').map((e) => e.aggregateId);
    const customerIds = events.filter((e) => e.aggregateType === 'Customer').map((e) => e.aggregateId);
    const rows = await sql.query(
      `SELECT ${COLUMNS} FROM order_list_view WHERE order_id = ANY($1::uuid[]) OR customer_id = ANY($2::uuid[])`,
      [orderIds, customerIds],
    );
    return rows
      .map((row): ReadModelChange => ({ projection: NAME, key: String(row.order_id), row }))
      .sort((a, b) => comparePositions(rowPosition(a.row), rowPosition(b.row)));
  },
};
