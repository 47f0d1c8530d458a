// order_search's tables as of its current version: what a rebuild's shadow is created
// from (projections/rebuild.ts); test/projections/definitions.test.ts holds them equal
// to what the migrations build. order_search_document() is the migrations' (public).
import type { ReadModelDefinition } from '../../projections/projection.ts';

export const definition: ReadModelDefinition = {
  tables: [
    `CREATE TABLE order_search (
       order_id       UUID PRIMARY KEY,
       customer_id    UUID NOT NULL,
       customer_name  TEXT,
       status         TEXT NOT NULL,
       total_cents    BIGINT NOT NULL,
       item_count     INTEGER NOT NULL,
       created_at     TIMESTAMPTZ NOT NULL,
       skus           TEXT[] NOT NULL,
       product_names  TEXT[] NOT NULL,
       version        INTEGER NOT NULL,
       document       TSVECTOR GENERATED ALWAYS AS (order_search_document(customer_name, skus, product_names)) STORED
     )`,
    `CREATE TABLE order_search_terms (
       order_id  UUID NOT NULL,
       kind      TEXT NOT NULL CHECK (kind IN ('customer', 'product', 'sku')),
       term      TEXT NOT NULL,
       PRIMARY KEY (order_id, kind, term)
     )`,
  ],
  indexes: [
    'CREATE INDEX order_search_document_idx ON order_search USING GIN (document)',
    'CREATE INDEX order_search_created_idx ON order_search (created_at DESC, order_id DESC)',
    'CREATE INDEX order_search_customer_idx ON order_search (customer_id)',
    'CREATE INDEX order_search_terms_prefix_idx ON order_search_terms (lower(term) text_pattern_ops)',
    'CREATE INDEX order_search_terms_trgm_idx ON order_search_terms USING GIN (lower(term) gin_trgm_ops)',
  ],
};
