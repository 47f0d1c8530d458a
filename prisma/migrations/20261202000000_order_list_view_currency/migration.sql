-- order_list_view version 2: the order's currency (src/readModels/orderListView).
--
-- A read model that has applied nothing yet takes the new shape here, so a new database
-- starts at version 2. One that holds rows keeps its version 1 shape: the projector's
-- start-up sees version 1 live and version 2 in the code, and rebuilds it with zero
-- downtime (a shadow created from the version 2 definition, replayed and swapped in;
-- the live tables serve and stay current in their version 1 shape until the swap).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM order_list_view)
       AND NOT EXISTS (SELECT 1 FROM projection_checkpoints
                        WHERE name = 'order_list_view' AND (tx_id <> '0'::xid8 OR seq <> 0))
       AND NOT EXISTS (SELECT 1 FROM projection_rebuilds WHERE name = 'order_list_view')
       AND NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = 'public' AND table_name = 'order_list_view' AND column_name = 'currency')
    THEN
        ALTER TABLE order_list_view ADD COLUMN currency TEXT NOT NULL;
        INSERT INTO projection_versions (name, version) VALUES ('order_list_view', 2)
            ON CONFLICT (name) DO UPDATE SET version = 2;
    END IF;
END
$$;
