-- Version 20: ban post-mortems (bot/services/post_mortem.py, issue 20 item 4).

-- One row per time a number was banned or restricted: the account of its last 48 hours
-- (``report``: JSON, ``PostMortem.to_json``) its owner was sent and /numbers shows again.
CREATE TABLE post_mortems (
    id        INTEGER PRIMARY KEY,
    owner_id  INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    sender_id INTEGER NOT NULL REFERENCES senders (id) ON DELETE CASCADE,
    state     TEXT    NOT NULL CHECK (state IN ('banned', 'restricted')),
    at        REAL    NOT NULL,
    report    TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX post_mortems_sender ON post_mortems (sender_id, at);
CREATE INDEX post_mortems_owner ON post_mortems (owner_id);
