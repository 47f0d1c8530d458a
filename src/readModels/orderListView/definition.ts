// order_list_view's tables as of its current version (2): what a rebuild's shadow is
// created from (projections/rebuild.ts). The migrations give a new database the same
// shape (test/projections/definitions.test.ts compares the two).
import type { ReadModelDefinition } from '../../projections/projection.ts';

export const definition: ReadModelDefinition = {
  tables: [
    `CREATE TABLE order_list_view (
       order_id        UUID PRIMARY KEY,
       customer_id     UUID NOT NULL,
       customer_name   TEXT,
       customer_email  TEXT,
       status          TEXT NOT NULL,
       total_cents     BIGINT NOT NULL,
       item_count      INTEGER NOT NULL,
       line_count      INTEGER NOT NULL,
       version         INTEGER NOT NULL,
       created_at      TIMESTAMPTZ NOT NULL,
       updated_at      TIMESTAMPTZ NOT NULL,
       position_tx_id  XID8 NOT NULL,
       position_seq    BIGINT NOT NULL,
       currency        TEXT NOT NULL
     )`,
    `CREATE TABLE order_list_view_items (
       order_id          UUID NOT NULL,
       line_no           INTEGER NOT NULL,
       product_id        UUID NOT NULL,
       sku               TEXT NOT NULL,
       product_name      TEXT NOT NULL,
       quantity          INTEGER NOT NULL,
       unit_price_cents  INTEGER NOT NULL,
       PRIMARY KEY (order_id, line_no)
     )`,
  ],
  indexes: [
    'CREATE INDEX order_list_view_created_idx ON order_list_view (created_at DESC, order_id DESC)',
    'CREATE INDEX order_list_view_customer_idx ON order_list_view (customer_id, created_at DESC, order_id DESC)',
    'CREATE INDEX order_list_view_status_idx ON order_list_view (status, created_at DESC, order_id DESC)',
    'CREATE INDEX order_list_view_position_idx ON order_list_view (position_tx_id, position_seq)',
  ],
};
