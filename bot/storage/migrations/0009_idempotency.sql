-- Version 9: Idempotency-Key of the integration API's POSTs. One row per (owner, key):
-- the SHA-256 of the first request (method, path, body) and its answer (status, JSON
-- body), kept 24 hours (bot/services/idempotency.py); a repeat is answered from here.
-- The row is written in the same transaction as the route's work when the route's
-- service takes it (``on_commit``), else just after it.
CREATE TABLE idempotency_keys (
    owner_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,  -- SHA-256 of method, path and body
    status      INTEGER NOT NULL,
    body        BLOB    NOT NULL,  -- the answer's JSON, as sent
    created_at  REAL    NOT NULL,
    PRIMARY KEY (owner_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
