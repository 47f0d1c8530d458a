// Queries over order_list_view (and its items). Never the write tables.
import type pg from 'pg';
import { pgSql } from '../../db/sql.ts';
import { isUuid } from '../../errors.ts';
import { selectList, viewFromColumns } from '../../projections/tables.ts';
import type { CursorCodec, OrderFilter, Page } from '../../read/paging.ts';
import { knownVersion } from '../../read/versions.ts';
import { LINES_TABLE, LIST_TABLE, type LineRow, type ListRow } from './table.ts';

export interface OrderView {
  orderId: string;
  customerId: string;
  customerName: string | null;
  customerEmail: string | null;
  status: string;
  previousStatus?: string | null;
  totalCents: number;
  itemCount: number;
  lineCount: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  positionTxId: string;
  positionSeq: string;
  /** Version 2 (null while the live read model is at version 1). */
  currency: string | null;
  /** Its lines, in line order, when they were read with it (`listOrders` with `withItems`). */
  items?: OrderViewItem[];
}

/** A line of an order as the list view holds it (order_list_view_items). */
export type OrderViewItem = LineRow;

const viewColumns = new Map<number, string>();

/**
 * An OrderView's SELECT list, from the table's one column list (timestamps as Date),
 * for the live version known to `pool` (read/versions.ts): a column of a later
 * version reads as null until that version is swapped in.
 */
export function orderViewColumns(pool: pg.Pool): string {
  const version = knownVersion(pool, 'order_list_view');
  let columns = viewColumns.get(version);
  if (!columns) {
    columns = selectList(LIST_TABLE, 'order_list_view', 'field', 'raw', version);
    viewColumns.set(version, columns);
  }
  return columns;
}

/** A change as the projection publishes it (named by column) to an OrderView. */
export function orderViewFromRow(row: Record<string, unknown>): OrderView {
  return {
    ...viewFromColumns<ListRow, OrderView>(LIST_TABLE, row),
    previousStatus: (row.previous_status as string | null | undefined) ?? null,
  };
}

export async function getOrdersByIds(pool: pg.Pool, ids: readonly string[]): Promise<(OrderView | null)[]> {
  const valid = ids.filter(isUuid);
  const rows = valid.length
    ? await pgSql(pool).query<OrderView>(
        `SELECT ${orderViewColumns(pool)} FROM order_list_view WHERE order_id = ANY($1::uuid[])`,
        [valid],
      )
    : [];
  const byId = new Map(rows.map((r) => [r.orderId, r]));
  return ids.map((id) => byId.get(id) ?? null);
}

export async function getItemsByOrderIds(pool: pg.Pool, ids: readonly string[]): Promise<OrderViewItem[][]> {
  const rows = await pgSql(pool).query<OrderViewItem>(
    `SELECT ${selectList(LINES_TABLE)} FROM order_list_view_items WHERE order_id = ANY($1::uuid[])
      ORDER BY order_id, line_no`,
    [ids.filter(isUuid)],
  );
  const byOrder = new Map<string, OrderViewItem[]>();
  for (const row of rows) {
    const items = byOrder.get(row.orderId);
    if (items) items.push(row);
    else byOrder.set(row.orderId, [row]);
  }
  return ids.map((id) => byOrder.get(id) ?? []);
}

/**
 * An order's lines as one JSON array of [line_no, product_id, sku, product_name,
 * quantity, unit_price_cents] (line order), read in the same statement (and snapshot)
 * as the order: a page with its items is one round trip. Arrays, not objects: less for
 * PostgreSQL to build and for the client to parse.
 */
const ITEMS_JSON = `(SELECT json_agg(json_build_array(i.line_no, i.product_id, i.sku, i.product_name, i.quantity,
    i.unit_price_cents) ORDER BY i.line_no)
  FROM order_list_view_items i WHERE i.order_id = order_list_view.order_id) AS "itemRows"`;

type ItemRow = [number, string, string, string, number, number];

/**
 * Newest first; keyset pagination on (created_at, order_id), stable under inserts.
 * With `withItems`, each order's lines come in the same statement (`OrderView.items`).
 */
export async function listOrders(
  pool: pg.Pool,
  cursorCodec: CursorCodec,
  filter: OrderFilter,
  first: number,
  after?: string | null,
  options: { withItems?: boolean } = {},
): Promise<Page<OrderView>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.customerId) add('customer_id = ?::uuid', filter.customerId);
  if (filter.status) add('status = ?', filter.status);
  if (filter.createdFrom) add('created_at >= ?', filter.createdFrom);
  if (filter.createdTo) add('created_at < ?', filter.createdTo);
  if (filter.minTotal !== null && filter.minTotal !== undefined) add('total_cents >= ?', filter.minTotal);
  if (filter.maxTotal !== null && filter.maxTotal !== undefined) add('total_cents <= ?', filter.maxTotal);
  if (after) {
    const [createdAt, orderId] = cursorCodec.decode('orders', after, ['timestamp', 'uuid']);
    params.push(createdAt, orderId);
    where.push(`(created_at, order_id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  const filterWhere = [...where];
  const filterParams = [...params];
  if (after) {
    filterWhere.pop();
    filterParams.splice(-2);
  }
  params.push(first + 1);
  // Prepared (named) statements: one per filter combination, parsed and planned once
  // per connection.
  const rows = await pgSql(pool).query<OrderView>(
    `SELECT ${orderViewColumns(pool)}${options.withItems ? `, ${ITEMS_JSON}` : ''} FROM order_list_view
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, order_id DESC
      LIMIT $${params.length}`,
    params,
  );
  const nodes = rows.slice(0, first);
  if (options.withItems) {
    for (const node of nodes as (OrderView & { itemRows?: ItemRow[] | null })[]) {
      const orderId = node.orderId;
      node.items = (node.itemRows ?? []).map(([lineNo, productId, sku, productName, quantity, unitPriceCents]) => ({
        orderId,
        lineNo,
        productId,
        sku,
        productName,
        quantity,
        unitPriceCents,
      }));
      node.itemRows = undefined;
    }
  }
  let cursors: string[] | undefined;
  return {
    nodes,
    // Encoded only when edges or pageInfo are asked for.
    get cursors() {
      cursors ??= nodes.map((n) => cursorCodec.encode('orders', [n.createdAt.toISOString(), n.orderId]));
      return cursors;
    },
    hasNextPage: rows.length > first,
    totalCount: async () =>
      (
        await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM order_list_view ${filterWhere.length ? `WHERE ${filterWhere.join(' AND ')}` : ''}`,
          filterParams,
        )
      ).rows[0]!.n,
  };
}
