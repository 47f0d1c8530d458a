-- Each rebuild run has its own id, and its shadow and retired schemas carry it
-- (rebuild_<name>_<run>, retired_<name>_<run>): the trailing DROP of a finished run can
-- never hit the schema of a run started right after it.
CREATE SEQUENCE projection_rebuild_runs;
ALTER TABLE projection_rebuilds ADD COLUMN run_id BIGINT NOT NULL DEFAULT nextval('projection_rebuild_runs');
ALTER SEQUENCE projection_rebuild_runs OWNED BY projection_rebuilds.run_id;

-- INLINE projections no longer mark the events they applied: every apply is idempotent
-- (rows carry their aggregate's version), so the engine applies every event and those
-- already applied inline change nothing. The table stays for one release so processes
-- of the previous version can finish a rolling upgrade; nothing reads it any more.
COMMENT ON TABLE projection_inline_applied IS 'unused; kept for rolling upgrades from the previous release';
