-- Version 13: packages owners buy, and their orders (Telegram Stars or a bank transfer).

-- A package: credits at a price, in the platform's currency (minor units: qəpik for AZN)
-- and in Telegram Stars; its credits expire validity_days after the purchase (0: never).
-- Hidden packages (active = 0) are not offered; orders keep pointing at them. Version 1
-- made this table (never used) with validity_days > 0: it is made again.
CREATE TABLE packages_v13 (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    credits       INTEGER NOT NULL CHECK (credits > 0),
    validity_days INTEGER NOT NULL DEFAULT 0 CHECK (validity_days >= 0),
    price_minor   INTEGER NOT NULL CHECK (price_minor >= 0),
    currency      TEXT    NOT NULL DEFAULT 'AZN',
    price_stars   INTEGER NOT NULL DEFAULT 0 CHECK (price_stars >= 0),  -- 0: not sold for Stars
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    REAL    NOT NULL,
    updated_at    REAL
);
INSERT INTO packages_v13 (id, name, credits, validity_days, price_minor, currency, active,
                          created_at)
    SELECT id, name, credits, validity_days, price_minor, currency, active, created_at
    FROM packages;
DROP TABLE packages;
ALTER TABLE packages_v13 RENAME TO packages;

-- An order of a package by an owner. method: 'stars' (paid inside Telegram) or
-- 'transfer' (a bank transfer or card outside Telegram, confirmed by an admin).
-- status: 'open' (waiting for the payment; a transfer order also waits for its receipt),
-- 'submitted' (a transfer's receipt sent, waiting for an admin), 'paid' (credited: once),
-- 'rejected' (an admin said why), 'expired' (not paid in time), 'cancelled' (by the owner
-- before paying), 'refunded' (Stars given back by an admin). The reference is unique and
-- goes on the invoice, the transfer and the receipt.
CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY,
    owner_id            INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    package_id          INTEGER NOT NULL REFERENCES packages (id),
    method              TEXT    NOT NULL CHECK (method IN ('stars', 'transfer')),
    status              TEXT    NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'submitted', 'paid', 'rejected', 'expired',
                                          'cancelled', 'refunded')),
    reference           TEXT    NOT NULL UNIQUE,
    credits             INTEGER NOT NULL,        -- the package's, when ordered
    validity_days       INTEGER NOT NULL,        -- the package's, when ordered
    amount_minor        INTEGER NOT NULL,        -- what is paid: minor units, or Stars
    currency            TEXT    NOT NULL,        -- 'AZN'..., or 'XTR' for Stars
    telegram_charge_id  TEXT    UNIQUE,          -- Stars: successful_payment's charge id
    provider_charge_id  TEXT,
    receipt_file_id     TEXT,                    -- transfer: the photo or PDF the owner sent
    receipt_kind        TEXT,                    -- 'photo' or 'document'
    decided_by          INTEGER,                 -- Telegram id of the admin who confirmed or rejected
    reason              TEXT,                    -- why rejected (or refunded)
    created_at          REAL    NOT NULL,
    expires_at          REAL,                    -- an open order not paid by then expires
    paid_at             REAL,
    decided_at          REAL
);
CREATE INDEX orders_owner ON orders (owner_id, created_at);
CREATE INDEX orders_package ON orders (package_id);
CREATE INDEX orders_status ON orders (status, expires_at);
