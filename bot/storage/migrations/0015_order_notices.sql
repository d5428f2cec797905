-- Version 15: the message each admin was sent about a transfer order waiting for
-- confirmation (its receipt, with Confirm payment / Reject), so that when one admin
-- decides, every other admin's message is edited to say who did (it survives a restart).
CREATE TABLE order_notices (
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    admin_id   INTEGER NOT NULL,                -- a Telegram id from ADMIN_IDS
    message_id INTEGER NOT NULL,                -- in the admin's private chat with the bot
    PRIMARY KEY (order_id, admin_id)
);
