-- Version 17: an index behind each of credit_lots' foreign keys (as version 6 did for the
-- others): a deleted owner, package or ledger row finds its lots without reading them all.
-- The owner's index is a whole one, so 0014's partial index of the live lots goes: the
-- walks read an owner's few lots through it and skip the spent ones.
CREATE INDEX credit_lots_owner ON credit_lots (owner_id);
DROP INDEX credit_lots_live;
CREATE INDEX credit_lots_package ON credit_lots (package_id) WHERE package_id IS NOT NULL;
CREATE INDEX credit_lots_ledger ON credit_lots (ledger_id) WHERE ledger_id IS NOT NULL;
