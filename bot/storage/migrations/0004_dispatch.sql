-- Version 4: sending.

-- The chat message that shows a running campaign's progress (edited as it goes).
ALTER TABLE campaigns ADD COLUMN progress_message_id INTEGER;

-- The owner's choices in /settings: which alerts they get (JSON: {"finished": true, ...};
-- a missing key means on), and whether a banned number's campaigns move to another number.
ALTER TABLE owners ADD COLUMN alerts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE owners ADD COLUMN failover INTEGER NOT NULL DEFAULT 0;
