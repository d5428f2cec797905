-- Version 12: messages sent through the HTTP API (POST /messages, POST /campaigns).

-- The integrator's own reference of a message (an order number, a booking id), given
-- back with the message and in its webhook events; NULL for the chat's messages.
ALTER TABLE messages ADD COLUMN client_ref TEXT;

-- What a single message sent by API says, as JSON: {"template_id": 3, "variables":
-- {"name": "Aysel"}} or {"text": "..."}, with "media_url" when it carries a picture or a
-- document. NULL for a campaign's messages (they say what their campaign's template says).
ALTER TABLE messages ADD COLUMN content TEXT;

-- When the message entered the outbox (its history starts there); NULL for rows written
-- before this version.
ALTER TABLE messages ADD COLUMN queued_at REAL;
