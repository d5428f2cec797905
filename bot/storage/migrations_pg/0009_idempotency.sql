-- Version 9, PostgreSQL: the twin of bot/storage/migrations/0009_idempotency.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE TABLE idempotency_keys (
    owner_id    BIGINT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    fingerprint BYTEA    NOT NULL,
    status      BIGINT NOT NULL,
    body        BYTEA    NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (owner_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
