-- Version 12, PostgreSQL: the twin of bot/storage/migrations/0012_api_messages.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

ALTER TABLE messages ADD COLUMN client_ref TEXT;

ALTER TABLE messages ADD COLUMN content TEXT;

ALTER TABLE messages ADD COLUMN queued_at DOUBLE PRECISION;
