-- Version 17, PostgreSQL: the twin of bot/storage/migrations/0017_credit_lots_indexes.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE INDEX credit_lots_owner ON credit_lots (owner_id);
DROP INDEX credit_lots_live;
CREATE INDEX credit_lots_package ON credit_lots (package_id) WHERE package_id IS NOT NULL;
CREATE INDEX credit_lots_ledger ON credit_lots (ledger_id) WHERE ledger_id IS NOT NULL;
