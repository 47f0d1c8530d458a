-- Parking (projections/parking.ts): an event a projection cannot apply, after its
-- retries, is parked for that projection together with every later event of the same
-- aggregate, so one bad order never stops every customer's list. The projection's
-- checkpoint moves past parked events (they are accounted for, not applied); an
-- operator re-applies them (retryParked) or gives them up (skipParked, with a reason).
--
-- Rows are never deleted: a resolved row keeps how it was resolved (RETRIED, SKIPPED,
-- or REBUILT when a rebuild's shadow applied it), by whom and why.
CREATE TABLE parked_events (
    projection         TEXT NOT NULL,
    tx_id              XID8 NOT NULL,
    seq                BIGINT NOT NULL,
    aggregate_type     TEXT NOT NULL,
    aggregate_id       UUID NOT NULL,
    aggregate_version  INTEGER NOT NULL,
    event_type         TEXT NOT NULL,
    -- FAILED: this event failed; BEHIND: an earlier event of its aggregate is parked.
    reason             TEXT NOT NULL CHECK (reason IN ('FAILED', 'BEHIND')),
    error              TEXT,
    parked_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    state              TEXT NOT NULL DEFAULT 'PARKED' CHECK (state IN ('PARKED', 'RETRIED', 'SKIPPED', 'REBUILT')),
    resolved_at        TIMESTAMPTZ,
    resolved_by        TEXT,
    resolved_role      TEXT,
    resolution_reason  TEXT,
    PRIMARY KEY (projection, tx_id, seq)
);
-- Which of a batch's aggregates are parked (every batch asks, so only parked rows are indexed).
CREATE INDEX parked_events_aggregate ON parked_events (projection, aggregate_id) WHERE state = 'PARKED';
-- Whether a position token's transaction has a parked event (consistency waits ask).
CREATE INDEX parked_events_tx ON parked_events (tx_id) WHERE state = 'PARKED';

-- When a projection last committed a batch: a runner that stopped while events wait is
-- not healthy, however recent its checkpoint row's other updates are.
ALTER TABLE projection_checkpoints ADD COLUMN last_batch_at TIMESTAMPTZ;

-- The no-skip audit (projections/audit.ts): each projection's checkpoint counts every
-- event it passed (events_applied: applied, not relevant to it, or parked); the audit
-- compares that count with the outbox rows at or below the checkpoint. The last audited
-- point is kept so the next audit counts only the rows after it.
CREATE TABLE projection_audits (
    name           TEXT PRIMARY KEY,
    tx_id          XID8 NOT NULL,
    seq            BIGINT NOT NULL,
    outbox_events  BIGINT NOT NULL,
    accounted      BIGINT NOT NULL,
    unaccounted    BIGINT NOT NULL,
    audited_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
