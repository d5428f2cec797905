-- Version 7, PostgreSQL: the twin of bot/storage/migrations/0007_admin_prompts.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE TABLE admin_prompts (
    admin_id   BIGINT PRIMARY KEY,
    action     TEXT    NOT NULL,
    payload    TEXT    NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL
);
