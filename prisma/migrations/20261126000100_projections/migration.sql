-- Projection engine and read models. Hand-written (not in schema.prisma): the write
-- side never touches these tables, the projection engine owns them.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per projection. The batch transaction locks this row, reads the outbox after
-- (tx_id, seq), applies the batch and advances it: the checkpoint moves in the same
-- transaction as the read-model rows, and the row lock is the compare-and-set that
-- keeps two workers from applying one batch.
CREATE TABLE projection_checkpoints (
    name            TEXT PRIMARY KEY,
    tx_id           XID8 NOT NULL DEFAULT '0',
    seq             BIGINT NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'LIVE' CHECK (state IN ('LIVE', 'STALLED', 'REBUILDING')),
    last_error      TEXT,
    error_tx_id     XID8,
    error_seq       BIGINT,
    retries         INTEGER NOT NULL DEFAULT 0,
    events_applied  BIGINT NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events an INLINE projection already applied inside the command's transaction; the
-- engine skips (and deletes) them when its checkpoint reaches them.
CREATE TABLE projection_inline_applied (
    projection  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (projection, seq)
);

-- Each projection's own copy of customer names and emails, so a projection is built
-- from events alone and can be rebuilt without reading the write tables.
CREATE TABLE projection_customers (
    projection   TEXT NOT NULL,
    customer_id  UUID NOT NULL,
    name         TEXT,
    email        TEXT,
    version      INTEGER NOT NULL,
    erased       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (projection, customer_id)
);

-- order_list_view: one row per order, customer name denormalized.
CREATE TABLE order_list_view (
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
    position_seq    BIGINT NOT NULL
);
CREATE INDEX order_list_view_created_idx ON order_list_view (created_at DESC, order_id DESC);
CREATE INDEX order_list_view_customer_idx ON order_list_view (customer_id, created_at DESC, order_id DESC);
CREATE INDEX order_list_view_status_idx ON order_list_view (status, created_at DESC, order_id DESC);
CREATE INDEX order_list_view_position_idx ON order_list_view (position_tx_id, position_seq);

CREATE TABLE order_list_view_items (
    order_id          UUID NOT NULL,
    line_no           INTEGER NOT NULL,
    product_id        UUID NOT NULL,
    sku               TEXT NOT NULL,
    product_name      TEXT NOT NULL,
    quantity          INTEGER NOT NULL,
    unit_price_cents  INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- customer_order_history: per customer, newest first.
CREATE TABLE customer_order_history (
    customer_id    UUID NOT NULL,
    order_id       UUID NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    summary        JSONB NOT NULL,
    items_preview  JSONB NOT NULL,
    version        INTEGER NOT NULL,
    PRIMARY KEY (customer_id, order_id)
);
CREATE INDEX customer_order_history_sorted_idx ON customer_order_history (customer_id, created_at DESC, order_id DESC);

-- order_search: full-text document plus facet columns. array_to_string is only STABLE
-- in general, but immutable for text arrays, which is all this wrapper accepts.
CREATE FUNCTION order_search_document(customer_name TEXT, skus TEXT[], product_names TEXT[])
RETURNS TSVECTOR LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple'::regconfig, coalesce(customer_name, '')), 'A') ||
           setweight(to_tsvector('simple'::regconfig, array_to_string(skus, ' ')), 'A') ||
           setweight(to_tsvector('simple'::regconfig, array_to_string(product_names, ' ')), 'B')
$$;

CREATE TABLE order_search (
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
);
CREATE INDEX order_search_document_idx ON order_search USING GIN (document);
CREATE INDEX order_search_created_idx ON order_search (created_at DESC, order_id DESC);
CREATE INDEX order_search_customer_idx ON order_search (customer_id);

-- Autocomplete terms, one row per order and term: counts come from GROUP BY, so a
-- rename or an erasure is a plain update or delete, never a reference count.
CREATE TABLE order_search_terms (
    order_id  UUID NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('customer', 'product', 'sku')),
    term      TEXT NOT NULL,
    PRIMARY KEY (order_id, kind, term)
);
CREATE INDEX order_search_terms_prefix_idx ON order_search_terms (lower(term) text_pattern_ops);
CREATE INDEX order_search_terms_trgm_idx ON order_search_terms USING GIN (lower(term) gin_trgm_ops);

-- order_analytics: per UTC day of order creation and current status.
CREATE TABLE order_analytics (
    day            DATE NOT NULL,
    status         TEXT NOT NULL,
    order_count    INTEGER NOT NULL,
    revenue_cents  BIGINT NOT NULL,
    items_sold     BIGINT NOT NULL,
    PRIMARY KEY (day, status)
);

-- What order_analytics needs to know of each order to move it between buckets.
CREATE TABLE order_analytics_orders (
    order_id     UUID PRIMARY KEY,
    day          DATE NOT NULL,
    status       TEXT NOT NULL,
    total_cents  BIGINT NOT NULL,
    items        INTEGER NOT NULL,
    version      INTEGER NOT NULL
);
