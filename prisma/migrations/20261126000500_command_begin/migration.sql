-- The first statement of every command transaction, in one round trip: take the
-- command's advisory locks (transaction-scoped, in sorted order; no transaction id is
-- assigned yet, so the outbox's (tx_id, seq) order follows lock order) and then, when
-- the command carries an idempotency key, read the record stored under it.
--
-- A function, not one SELECT: in READ COMMITTED a statement sees the snapshot taken
-- when it started, which is before the lock wait ended, so a record committed by the
-- lock's previous holder would be missed. A VOLATILE function takes a fresh snapshot
-- for each query it runs, so the lookup below sees everything committed before the
-- locks were granted.
CREATE FUNCTION command_begin(lock_keys TEXT[], idem_command TEXT, idem_key TEXT)
RETURNS TABLE (request_hash TEXT, result JSONB)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
       FROM (SELECT k FROM unnest(lock_keys) AS k ORDER BY k) AS keys;
    IF idem_key IS NOT NULL THEN
        RETURN QUERY
            SELECT r.request_hash, r.result
              FROM idempotency_records AS r
             WHERE r.command = idem_command AND r.key = idem_key;
    END IF;
END
$$;
