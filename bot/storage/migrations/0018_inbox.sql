-- Version 18: the inbox in Telegram (bot/services/inbox.py): where each owner's customers'
-- messages go, one conversation per customer, and which messages have been routed.

-- How an owner reads their customers' messages: ``chat`` (default: in the owner's own
-- chat with the bot) or ``topics`` (a forum topic per customer in the linked Telegram
-- group ``group_chat_id``, one owner's only). ``link_code`` is the one-time code the
-- owner types in that group (``/linkinbox <code>``) to link it, until ``link_code_until``.
CREATE TABLE inbox_settings (
    owner_id        INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    mode            TEXT    NOT NULL DEFAULT 'chat' CHECK (mode IN ('chat', 'topics')),
    group_chat_id   INTEGER UNIQUE,
    group_title     TEXT,
    linked_at       REAL,
    link_code       TEXT    UNIQUE,
    link_code_until REAL,
    updated_at      REAL    NOT NULL
);

-- One conversation per customer's phone of an owner: its forum topic in the linked group
-- (``thread_id`` in ``group_chat_id``; NULL until its first message there) and whether
-- the owner muted it (``muted_at``: their messages are kept, not forwarded).
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    owner_id      INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    phone         TEXT    NOT NULL,  -- E.164
    group_chat_id INTEGER,
    thread_id     INTEGER,
    muted_at      REAL,
    created_at    REAL    NOT NULL,
    UNIQUE (owner_id, phone)
);
CREATE UNIQUE INDEX conversations_topic ON conversations (group_chat_id, thread_id)
    WHERE thread_id IS NOT NULL;

-- When a customer's message was routed to the owner (posted in the chat or the topic, or
-- left alone: an opt-out word, a muted contact). NULL: still to route (the inbox's worker
-- routes these, also after a restart). Messages kept before this version count as routed.
ALTER TABLE inbound_messages ADD COLUMN routed_at REAL;
UPDATE inbound_messages SET routed_at = received_at;
CREATE INDEX inbound_messages_unrouted ON inbound_messages (owner_id, id)
    WHERE routed_at IS NULL;
