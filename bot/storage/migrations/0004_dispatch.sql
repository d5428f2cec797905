-- Version 4: sending.

-- The chat message that shows a running campaign's progress (edited as it goes).
ALTER TABLE campaigns ADD COLUMN progress_message_id INTEGER;
