-- Version 6: an index behind every foreign key.
-- SQLite finds a deleted parent's children by the child column: without an index it reads
-- the whole child table for every parent row deleted. Deleting a list of 10,000 contacts
-- that a campaign used read the outbox 10,000 times (30 s; 100,000 never finished).

CREATE INDEX messages_contact ON messages (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX campaigns_list ON campaigns (list_id) WHERE list_id IS NOT NULL;
CREATE INDEX campaigns_template ON campaigns (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX imports_list ON imports (list_id) WHERE list_id IS NOT NULL;
CREATE INDEX campaign_senders_sender ON campaign_senders (sender_id);
CREATE INDEX senders_owner ON senders (owner_id);
CREATE INDEX ledger_package ON ledger (package_id) WHERE package_id IS NOT NULL;
