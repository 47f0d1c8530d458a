// Queries over customer_order_history.
import type pg from 'pg';
import type { OrderLine } from '../../events/order.ts';
import type { CursorCodec, Page } from '../../read/paging.ts';

export interface HistoryEntry {
  customerId: string;
  orderId: string;
  createdAt: Date;
  version: number;
  summary: {
    status: string;
    totalCents: number;
    itemCount: number;
    lineCount: number;
    customerName: string | null;
    updatedAt: string;
  };
  itemsPreview: OrderLine[];
}

export async function getCustomerOrderHistory(
  pool: pg.Pool,
  cursorCodec: CursorCodec,
  customerId: string,
  first: number,
  after?: string | null,
): Promise<Page<HistoryEntry>> {
  const params: unknown[] = [customerId, first + 1];
  let keyset = '';
  if (after) {
    const [createdAt, orderId] = cursorCodec.decode('history', after, ['timestamp', 'uuid']);
    params.push(createdAt, orderId);
    keyset = 'AND (created_at, order_id::text) < ($3::timestamptz, $4::text)';
  }
  const { rows } = await pool.query<HistoryEntry>(
    `SELECT customer_id::text AS "customerId", order_id::text AS "orderId", created_at AS "createdAt", version,
            summary, items_preview AS "itemsPreview"
       FROM customer_order_history
      WHERE customer_id = $1::uuid ${keyset}
      ORDER BY created_at DESC, order_id::text DESC
      LIMIT $2`,
    params,
  );
  const nodes = rows.slice(0, first);
  return {
    nodes,
    cursors: nodes.map((n) => cursorCodec.encode('history', [n.createdAt.toISOString(), n.orderId])),
    hasNextPage: rows.length > first,
  };
}
