import type { StoredEvent } from '../outbox/append.ts';
import type { Sql } from './sql.ts';

export const PROJECTION_NAMES = [
  'order_list_view',
  'customer_order_history',
  'order_search',
  'order_analytics',
] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/** A read-model row that changed in a batch, published after the batch commits. */
export interface ReadModelChange {
  projection: ProjectionName;
  key: string;
  row: Record<string, unknown>;
}

export interface Projection {
  name: ProjectionName;
  /** Bumped when the read model's shape or meaning changes (rebuild). */
  version: number;
  /** Every table the read model owns (for rebuild and verification). */
  tables: string[];
  /**
   * Applies events, in outbox order, inside the caller's transaction. Must not commit.
   * Returns the rows it changed that subscribers care about.
   */
  apply(sql: Sql, events: StoredEvent[]): Promise<ReadModelChange[]>;
  /** Current rows touched by events applied elsewhere (INLINE mode), to publish them. */
  changesFor?(sql: Sql, events: StoredEvent[]): Promise<ReadModelChange[]>;
}
