-- Version 8: API keys an owner manages in the chat (/api). The table came with version 1
-- but was never used; a key now carries its scopes, and its prefix (``qsd_`` and 8 hex
-- digits, shown to the owner) finds it: the secret is checked against its SHA-256.
-- A key being made in the chat (its name typed, its scopes being chosen) is a draft, one
-- per owner, so that it survives a restart.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';  -- space-separated Scope values
CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix);

CREATE TABLE api_key_drafts (
    owner_id   INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '',
    created_at REAL    NOT NULL
);
