-- Version 4, PostgreSQL: the twin of bot/storage/migrations/0004_dispatch.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

ALTER TABLE campaigns ADD COLUMN progress_message_id BIGINT;

ALTER TABLE owners ADD COLUMN alerts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE owners ADD COLUMN failover BIGINT NOT NULL DEFAULT 0;
