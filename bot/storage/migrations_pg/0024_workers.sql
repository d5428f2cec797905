-- Version 24, PostgreSQL: the twin of bot/storage/migrations/0024_workers.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX leases_holder ON leases (holder);

CREATE INDEX messages_sender_queued ON messages (sender_id, planned_at)
    WHERE status = 'queued';
