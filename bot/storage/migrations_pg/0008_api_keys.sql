-- Version 8, PostgreSQL: the twin of bot/storage/migrations/0008_api_keys.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix);

CREATE TABLE api_key_drafts (
    owner_id   BIGINT PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
