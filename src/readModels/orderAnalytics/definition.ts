// order_analytics's tables as of its current version: what a rebuild's shadow is created
// from (projections/rebuild.ts); test/projections/definitions.test.ts holds them equal
// to what the migrations build.
import type { ReadModelDefinition } from '../../projections/projection.ts';

export const definition: ReadModelDefinition = {
  tables: [
    `CREATE TABLE order_analytics (
       day            DATE NOT NULL,
       status         TEXT NOT NULL,
       order_count    INTEGER NOT NULL,
       revenue_cents  BIGINT NOT NULL,
       items_sold     BIGINT NOT NULL,
       PRIMARY KEY (day, status)
     )`,
    `CREATE TABLE order_analytics_orders (
       order_id     UUID PRIMARY KEY,
       day          DATE NOT NULL,
       status       TEXT NOT NULL,
       total_cents  BIGINT NOT NULL,
       items        INTEGER NOT NULL,
       version      INTEGER NOT NULL
     )`,
  ],
  indexes: [],
};
