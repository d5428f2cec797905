-- Version 5, PostgreSQL: the twin of bot/storage/migrations/0005_gateways.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

ALTER TABLE templates ADD COLUMN cloud TEXT;

CREATE TABLE whatsapp_checks (
    owner_id    BIGINT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    phone       TEXT    NOT NULL,
    on_whatsapp BIGINT NOT NULL,
    checked_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (owner_id, phone)
);
