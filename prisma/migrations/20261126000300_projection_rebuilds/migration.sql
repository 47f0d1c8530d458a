-- Zero-downtime rebuilds. The live read model keeps serving (and being updated) while a
-- shadow copy is built from position zero in its own schema (rebuild_<name>), with its
-- own checkpoint row (<name>#rebuild). Once the shadow has caught up, one transaction
-- moves the live tables out and the shadow tables into public.

-- The version of each projection's code that built the live read model.
CREATE TABLE projection_versions (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL
);
INSERT INTO projection_versions (name, version) VALUES
    ('order_list_view', 1), ('customer_order_history', 1), ('order_search', 1), ('order_analytics', 1);

-- Rebuilds in progress: at most one per projection.
CREATE TABLE projection_rebuilds (
    name          TEXT PRIMARY KEY,
    version       INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    total_events  BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
