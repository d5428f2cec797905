-- Version 19: the live health guard (bot/services/health_guard.py, issue 20 item 2).

-- One row per number the guard acted on (a missing row: normal, factor 1): the gateway's
-- last early-warning figures (WAHA capping, Cloud quality and tier), the mode it sends in
-- and the factor its gaps are multiplied by.
CREATE TABLE sender_guard (
    sender_id  INTEGER PRIMARY KEY REFERENCES senders (id) ON DELETE CASCADE,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    capping    TEXT,
    quality    TEXT,
    tier       INTEGER,
    mode       TEXT    NOT NULL DEFAULT 'normal'
               CHECK (mode IN ('normal', 'slowed', 'no_new_chats', 'paused')),
    gap_factor REAL    NOT NULL DEFAULT 1.0,  -- >= 1: the number's gaps are multiplied by it
    updated_at REAL    NOT NULL
);

-- The log of what the guard saw and did (/numbers and the post-mortem read it).
CREATE TABLE sender_warnings (
    id        INTEGER PRIMARY KEY,
    sender_id INTEGER NOT NULL REFERENCES senders (id) ON DELETE CASCADE,
    owner_id  INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    at        REAL    NOT NULL,
    kind      TEXT    NOT NULL,
    detail    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX sender_warnings_sender_at ON sender_warnings (sender_id, at);
-- an owner deleted takes their rows: found by these
CREATE INDEX sender_guard_owner ON sender_guard (owner_id);
CREATE INDEX sender_warnings_owner ON sender_warnings (owner_id);
