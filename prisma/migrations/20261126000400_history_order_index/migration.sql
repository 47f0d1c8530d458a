-- customer_order_history is keyed (customer_id, order_id); order events find their row
-- by order_id alone, which without this index is a scan of the whole table per event.
CREATE INDEX customer_order_history_order_idx ON customer_order_history (order_id);
