-- Version 14: credit lots, so that credits can expire and be spent oldest-expiring first.
--
-- Every credit (a package bought, an admin's /credit, a positive correction) is a lot: how
-- many credits it brought, how many of them are still available (remaining) and how many
-- campaigns hold (held), and when they expire (NULL: never). The ledger stays the truth of
-- the balance; the lots say which credits the balance is made of (bot/storage/ledger.py
-- moves them with each row it writes). For every owner, always:
--     balance (the sum of the ledger) = SUM(remaining + held),  reserved = SUM(held).
CREATE TABLE credit_lots (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    credits     INTEGER NOT NULL CHECK (credits >= 0),         -- what it brought
    remaining   INTEGER NOT NULL CHECK (remaining >= 0),       -- available
    held        INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),  -- reserved for campaigns
    expires_at  REAL,                                          -- NULL: never
    package_id  INTEGER REFERENCES packages (id),
    order_id    INTEGER REFERENCES orders (id),
    ledger_id   INTEGER REFERENCES ledger (id),   -- its credit row (NULL: the opening lot)
    warned_at   REAL,                             -- the owner was told it expires soon
    created_at  REAL    NOT NULL
);
-- the lots an owner's credits are in (spending walks them); the lots to lapse or warn of
CREATE INDEX credit_lots_live ON credit_lots (owner_id) WHERE remaining > 0 OR held > 0;
CREATE INDEX credit_lots_expiry ON credit_lots (expires_at) WHERE remaining > 0;
CREATE INDEX credit_lots_order ON credit_lots (order_id) WHERE order_id IS NOT NULL;

-- The opening lot of every owner with credits: today's balance, what campaigns hold of it
-- held, never expiring. (A hold above the balance, which the services never write, is
-- kept within it, so that remaining is never negative.)
INSERT INTO credit_lots (owner_id, credits, remaining, held, created_at)
SELECT owner_id, total,
       total - CASE WHEN reserved < 0 THEN 0 WHEN reserved > total THEN total ELSE reserved END,
       CASE WHEN reserved < 0 THEN 0 WHEN reserved > total THEN total ELSE reserved END,
       (julianday('now') - 2440587.5) * 86400.0
FROM (SELECT owner_id,
             SUM(CASE WHEN kind IN ('credit', 'adjust', 'expire', 'charge') THEN amount
                      ELSE 0 END) AS total,
             SUM(CASE WHEN kind IN ('reserve', 'release') THEN -amount
                      WHEN kind = 'charge' THEN amount ELSE 0 END) AS reserved
      FROM ledger GROUP BY owner_id)
WHERE total > 0;
