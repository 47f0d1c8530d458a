// customer_order_history's table as of its current version: what a rebuild's shadow is
// created from (projections/rebuild.ts); test/projections/definitions.test.ts holds it
// equal to what the migrations build.
import type { ReadModelDefinition } from '../../projections/projection.ts';

export const definition: ReadModelDefinition = {
  tables: [
    `CREATE TABLE customer_order_history (
       customer_id    UUID NOT NULL,
       order_id       UUID NOT NULL,
       created_at     TIMESTAMPTZ NOT NULL,
       summary        JSONB NOT NULL,
       items_preview  JSONB NOT NULL,
       version        INTEGER NOT NULL,
       PRIMARY KEY (customer_id, order_id)
     )`,
  ],
  indexes: [
    'CREATE INDEX customer_order_history_sorted_idx ON customer_order_history (customer_id, created_at DESC, order_id DESC)',
    'CREATE INDEX customer_order_history_order_idx ON customer_order_history (order_id)',
  ],
};
