-- Version 10: outgoing webhooks (bot/services/webhooks.py).
--
-- An owner's endpoints, the events written in the same transaction as the change they
-- report (the outbox), and the last attempts of each endpoint. Delivery is in order per
-- endpoint by a cursor: an endpoint has done every event of its owner up to ``cursor``
-- (delivered, not subscribed, or dropped after 24 h); the next one is the owner's first
-- event above it. Event ids only grow (AUTOINCREMENT: an id is never reused, even after
-- the delivered events are pruned), and SQLite's one writer commits them in id order.

CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    owner_id        INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,               -- signs each request; shown once
    events          TEXT    NOT NULL DEFAULT '["*"]', -- JSON array of event types; "*": all
    state           TEXT    NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active', 'failing', 'disabled')),
    failing_since   REAL,
    cursor          INTEGER NOT NULL DEFAULT 0,     -- the last event id done
    failures        INTEGER NOT NULL DEFAULT 0,     -- failed attempts in a row
    next_attempt_at REAL    NOT NULL DEFAULT 0,     -- no attempt before (the backoff)
    last_error      TEXT,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id);
-- the worker's question, every poll: which endpoints may try now
CREATE INDEX webhook_endpoints_due ON webhook_endpoints (next_attempt_at)
    WHERE state <> 'disabled';

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    data       TEXT    NOT NULL,                    -- JSON object: the payload's "data"
    created_at REAL    NOT NULL
);
-- an endpoint's next events: its owner's, above its cursor, in order
CREATE INDEX webhook_events_owner ON webhook_events (owner_id, id);

-- Attempts (and drops) as the owner sees them: the last ones per endpoint are kept.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    endpoint_id  INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id     INTEGER,                           -- no foreign key: events are pruned
    event_type   TEXT    NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dropped')),
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER,
    attempted_at REAL    NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
