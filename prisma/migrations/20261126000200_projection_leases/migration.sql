-- Projector leases: each projection is run by at most one projector at a time. A lease
-- expires unless its owner renews it; a projector that dies or loses its database
-- connection stops renewing, and another takes the projection over after expiry.
-- (The checkpoint row lock remains the last line of defence against double application.)
CREATE TABLE projection_leases (
    name         TEXT PRIMARY KEY,
    owner        TEXT,
    expires_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    acquired_at  TIMESTAMPTZ
);

-- Live projectors, so each can take its fair share of the projections.
CREATE TABLE projector_members (
    owner         TEXT PRIMARY KEY,
    heartbeat_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
