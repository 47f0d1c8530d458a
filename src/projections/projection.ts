import type { Sql } from '../db/sql.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Position } from '../outbox/position.ts';

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

/** One recomputation from the write tables and the read model's own rows, compared by key. */
export interface VerificationCheck {
  /** Table (or table set) compared, for the report. */
  table: string;
  /** The read model's version that brought what this check compares (absent: every version). */
  since?: number;
  key: string[];
  expected: string;
  actual: string;
}

/**
 * A read model's tables as of its current version, with unqualified names: what a
 * rebuild's shadow is created from (rebuild.ts). Keys and constraints go in `tables`;
 * `indexes` are the other indexes (plain `CREATE INDEX <name> ON <table> ...`), built
 * once the shadow has caught up. The migrations give a new database the same shape.
 */
export interface ReadModelDefinition {
  tables: string[];
  indexes: string[];
}

export interface Projection {
  name: ProjectionName;
  /**
   * Bumped when the read model's shape or meaning changes (rebuild). A shape change
   * comes with the new `definition`, the columns' `since` (tables.ts) and a migration
   * (README "Evolving events and read models").
   */
  version: number;
  /** Every table the read model owns (for rebuild and verification). */
  tables: string[];
  definition: ReadModelDefinition;
  /** How verification recomputes it from the write tables. */
  checks: VerificationCheck[];
  /**
   * Applies events, in outbox order, inside the caller's transaction. Must not commit.
   * Idempotent: every row carries its aggregate's version and an event changes a row
   * only when it is the next one, so an event applied twice (INLINE, then the engine)
   * or offered to a row that is behind changes nothing the second time.
   */
  apply(sql: Sql, events: StoredEvent[]): Promise<void>;
  /**
   * The rows subscribers must hear of after the batch `(after, to]` commits: those whose
   * position lies inside it (their latest change came from one of its events, whoever
   * applied it). A row an INLINE command already took past `to` is told by the batch
   * that reaches it, so no published position runs ahead of the checkpoint.
   */
  changes?(sql: Sql, events: StoredEvent[], after: Position, to: Position): Promise<ReadModelChange[]>;
  /**
   * Skipped parked events (projections/parking.ts): moves each aggregate's rows to the
   * last skipped version without applying anything, so its later events apply on top.
   */
  skip?(sql: Sql, events: StoredEvent[]): Promise<void>;
}
