-- Qasid schema, version 1: the whole domain of DESIGN.md.
-- Times are REAL seconds since the epoch, UTC. Money is INTEGER minor units; credits INTEGER.
-- Later versions change it through new migration files only.

CREATE TABLE owners (
    id                INTEGER PRIMARY KEY,
    telegram_id       INTEGER NOT NULL UNIQUE,
    chat_id           INTEGER NOT NULL,
    language          TEXT    NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'az', 'ru')),
    status            TEXT    NOT NULL DEFAULT 'registering'
                      CHECK (status IN ('registering', 'pending', 'active', 'rejected', 'suspended')),
    status_reason     TEXT,
    name              TEXT,
    company           TEXT,
    phone             TEXT,
    timezone          TEXT,
    region            TEXT,
    terms_accepted_at REAL,
    approved_at       REAL,
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL
);
CREATE INDEX owners_status ON owners (status);

-- A linked WhatsApp number.
CREATE TABLE senders (
    id            INTEGER PRIMARY KEY,
    owner_id      INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    gateway       TEXT    NOT NULL,
    phone         TEXT    NOT NULL,
    label         TEXT,
    external_id   TEXT,
    config        TEXT    NOT NULL DEFAULT '{}',   -- JSON; secrets stay out of logs
    status        TEXT    NOT NULL DEFAULT 'linking'
                  CHECK (status IN ('linking', 'active', 'restricted', 'banned', 'removed')),
    status_detail TEXT,
    restricted_until REAL,
    daily_cap     INTEGER,
    linked_at     REAL,
    created_at    REAL    NOT NULL,
    updated_at    REAL    NOT NULL
);
CREATE UNIQUE INDEX senders_owner_phone ON senders (owner_id, gateway, phone) WHERE status <> 'removed';
CREATE INDEX senders_gateway_external ON senders (gateway, external_id);

CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY,
    owner_id       INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    phone          TEXT    NOT NULL,               -- E.164
    name           TEXT,
    attributes     TEXT    NOT NULL DEFAULT '{}',  -- JSON object of template variables
    opted_out_at   REAL,
    opt_out_reason TEXT,
    created_at     REAL    NOT NULL,
    updated_at     REAL    NOT NULL,
    UNIQUE (owner_id, phone)
);

CREATE TABLE contact_lists (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at REAL    NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE list_members (
    list_id    INTEGER NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    added_at   REAL    NOT NULL,
    PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX list_members_contact ON list_members (contact_id);

CREATE TABLE templates (
    id            INTEGER PRIMARY KEY,
    owner_id      INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    variants      TEXT    NOT NULL,               -- JSON array of texts
    media_kind    TEXT CHECK (media_kind IN ('image', 'document')),
    media_file_id TEXT,
    created_at    REAL    NOT NULL,
    updated_at    REAL    NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    list_id      INTEGER REFERENCES contact_lists (id) ON DELETE SET NULL,
    template_id  INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    status       TEXT    NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    status_reason TEXT,
    starts_at    REAL,
    recurrence   TEXT,                            -- JSON: {"every": "day"|"week", "at": "HH:MM", ...}
    pacing       TEXT    NOT NULL DEFAULT '{}',   -- JSON: delays, batch size, pauses, quiet hours
    failover     INTEGER NOT NULL DEFAULT 0,
    seed         INTEGER NOT NULL DEFAULT 0,
    run          INTEGER NOT NULL DEFAULT 0,      -- current run of a recurring campaign
    draft        TEXT,                            -- JSON: the wizard's answers so far
    created_at   REAL    NOT NULL,
    updated_at   REAL    NOT NULL,
    started_at   REAL,
    finished_at  REAL
);
CREATE INDEX campaigns_owner_status ON campaigns (owner_id, status);
CREATE INDEX campaigns_status_starts ON campaigns (status, starts_at);

CREATE TABLE campaign_senders (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    sender_id   INTEGER NOT NULL REFERENCES senders (id),
    PRIMARY KEY (campaign_id, sender_id)
) WITHOUT ROWID;

-- The durable outbox: one row per recipient and run.
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    campaign_id        INTEGER REFERENCES campaigns (id) ON DELETE CASCADE,
    owner_id           INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    contact_id         INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    sender_id          INTEGER REFERENCES senders (id),
    run                INTEGER NOT NULL DEFAULT 0,
    phone              TEXT    NOT NULL,
    batch              INTEGER NOT NULL DEFAULT 0,
    variant            INTEGER NOT NULL DEFAULT 0,
    planned_at         REAL    NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read',
                                         'failed', 'uncertain', 'skipped')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    lease_until        REAL,
    gateway_message_id TEXT,
    error_category     TEXT,
    error_detail       TEXT,
    sent_at            REAL,
    delivered_at       REAL,
    read_at            REAL,
    updated_at         REAL    NOT NULL
);
CREATE INDEX messages_due ON messages (status, planned_at);
CREATE INDEX messages_campaign_status ON messages (campaign_id, status);
CREATE INDEX messages_owner_status ON messages (owner_id, status);
CREATE INDEX messages_sender_sent ON messages (sender_id, sent_at);
CREATE UNIQUE INDEX messages_gateway_id ON messages (gateway_message_id)
    WHERE gateway_message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_campaign_run_contact ON messages (campaign_id, run, contact_id)
    WHERE campaign_id IS NOT NULL AND contact_id IS NOT NULL;

CREATE TABLE packages (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    credits       INTEGER NOT NULL CHECK (credits > 0),
    validity_days INTEGER NOT NULL CHECK (validity_days > 0),
    price_minor   INTEGER NOT NULL CHECK (price_minor >= 0),
    currency      TEXT    NOT NULL DEFAULT 'AZN',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    REAL    NOT NULL
);

-- Every change of balance is a row; the balance is the sum of the ledger.
CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL
                CHECK (kind IN ('credit', 'reserve', 'release', 'charge', 'expire', 'adjust')),
    amount      INTEGER NOT NULL,
    campaign_id INTEGER REFERENCES campaigns (id) ON DELETE SET NULL,
    package_id  INTEGER REFERENCES packages (id),
    expires_at  REAL,
    note        TEXT,
    actor_id    INTEGER,                          -- Telegram id of the admin who did it
    created_at  REAL    NOT NULL
);
CREATE INDEX ledger_owner ON ledger (owner_id, created_at);
CREATE INDEX ledger_campaign ON ledger (campaign_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,                -- shown to the owner to tell keys apart
    key_hash     TEXT    NOT NULL UNIQUE,         -- sha256 of the secret; the secret is never stored
    created_at   REAL    NOT NULL,
    last_used_at REAL,
    revoked_at   REAL
);
CREATE INDEX api_keys_owner ON api_keys (owner_id);
