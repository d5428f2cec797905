-- Version 6, PostgreSQL: the twin of bot/storage/migrations/0006_foreign_key_indexes.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE INDEX messages_contact ON messages (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX campaigns_list ON campaigns (list_id) WHERE list_id IS NOT NULL;
CREATE INDEX campaigns_template ON campaigns (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX imports_list ON imports (list_id) WHERE list_id IS NOT NULL;
CREATE INDEX campaign_senders_sender ON campaign_senders (sender_id);
CREATE INDEX senders_owner ON senders (owner_id);
CREATE INDEX ledger_package ON ledger (package_id) WHERE package_id IS NOT NULL;
