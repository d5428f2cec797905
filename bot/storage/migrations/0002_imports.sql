-- Version 2: contact imports and chat prompts that survive a restart.

-- A file an owner sent: waiting for the choice of a list, then imported, with its report.
CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    file_id     TEXT    NOT NULL,                 -- Telegram's file id
    file_name   TEXT    NOT NULL,
    file_size   INTEGER,
    status      TEXT    NOT NULL DEFAULT 'awaiting_list'
                CHECK (status IN ('awaiting_list', 'running', 'done', 'failed', 'cancelled')),
    list_id     INTEGER REFERENCES contact_lists (id) ON DELETE SET NULL,
    rows_read   INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    invalid     INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  REAL    NOT NULL,
    finished_at REAL
);
CREATE INDEX imports_owner ON imports (owner_id, status);

-- "The next message you type is ..." (e.g. a list's new name), one per owner.
CREATE TABLE chat_prompts (
    owner_id   INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    action     TEXT    NOT NULL,
    payload    TEXT    NOT NULL DEFAULT '{}',
    created_at REAL    NOT NULL
);

CREATE INDEX contacts_owner_opted_out ON contacts (owner_id) WHERE opted_out_at IS NOT NULL;
