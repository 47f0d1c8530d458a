-- Outbox relays (relay/): where each relay is in the outbox and who runs it.
--
-- A table of its own, not rows in projection_checkpoints: a relay is not a read model.
-- Everything that lists projection checkpoints (the consistency waits, /ready, the
-- `projections` query, rebuilds, the exactly-once checks) would otherwise have to learn
-- to skip it, and a relay row there would count as a projection that never catches up
-- on a deployment without NATS.
--
-- The lease lives on the same row: one relay per row, run by at most one process. The
-- checkpoint moves with one UPDATE that is also the fence: it matches only while the
-- lease is ours and unexpired and the row still holds the position the batch started
-- from, so a relay that lost its lease (paused, cut off) can never move it.
CREATE TABLE relay_checkpoints (
    name              TEXT PRIMARY KEY,
    tx_id             XID8 NOT NULL DEFAULT '0',
    seq               BIGINT NOT NULL DEFAULT 0,
    events_published  BIGINT NOT NULL DEFAULT 0,
    owner             TEXT,
    lease_expires_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    acquired_at       TIMESTAMPTZ,
    last_error        TEXT,
    last_error_at     TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
