-- Version 15, PostgreSQL: the twin of bot/storage/migrations/0015_order_notices.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE TABLE order_notices (
    order_id   BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    admin_id   BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (order_id, admin_id)
);
