// Per-request DataLoaders: every per-row lookup of a request is batched into one query.
import DataLoader from 'dataloader';
import type pg from 'pg';
import {
  getItemsByOrderIds,
  getOrdersByIds,
  type OrderView,
  type OrderViewItem,
} from '../readModels/orderListView/queries.ts';

export interface Loaders {
  orderById: DataLoader<string, OrderView | null>;
  itemsByOrderId: DataLoader<string, OrderViewItem[]>;
}

export function createLoaders(pool: pg.Pool): Loaders {
  return {
    orderById: new DataLoader((ids) => getOrdersByIds(pool, ids)),
    itemsByOrderId: new DataLoader((ids) => getItemsByOrderIds(pool, ids)),
  };
}
