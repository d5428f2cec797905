-- Version 16: customers' messages to the owners' numbers, kept (every one, not only the
-- opt-out words), and which campaign message each one answered.

-- One row per message a customer sent to one of the owner's numbers. ``message_id`` is
-- the campaign message it answered: the last one that number sent to that phone before
-- it came (NULL: none, e.g. a stranger writing first); ``campaign_id`` is that message's
-- campaign. ``kind``: text, image, document, audio, voice, video, location, contact,
-- sticker, other; ``text`` the body or a caption; ``media_ref`` the gateway's reference
-- of an attachment (a Cloud API media id, a WAHA media URL). ``gateway_message_id`` is
-- the gateway's own id of the message: a webhook delivered twice is kept once.
CREATE TABLE inbound_messages (
    id                 INTEGER PRIMARY KEY,
    owner_id           INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    sender_id          INTEGER NOT NULL REFERENCES senders (id) ON DELETE CASCADE,
    phone              TEXT    NOT NULL,               -- the customer's, E.164
    contact_id         INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    message_id         INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    campaign_id        INTEGER REFERENCES campaigns (id) ON DELETE SET NULL,
    kind               TEXT    NOT NULL DEFAULT 'text',
    text               TEXT,
    media_ref          TEXT,
    gateway_message_id TEXT,
    received_at        REAL    NOT NULL
);
-- (NULL ids are all distinct: a message without an id is never taken for another; the index
-- also finds a number's messages)
CREATE UNIQUE INDEX inbound_messages_gateway_id ON inbound_messages (sender_id, gateway_message_id);
CREATE INDEX inbound_messages_owner_phone ON inbound_messages (owner_id, phone, received_at);
CREATE INDEX inbound_messages_contact ON inbound_messages (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX inbound_messages_message ON inbound_messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX inbound_messages_campaign ON inbound_messages (campaign_id)
    WHERE campaign_id IS NOT NULL;

-- When the recipient first answered this message (a campaign's "replied").
ALTER TABLE messages ADD COLUMN replied_at REAL;

-- A campaign's messages by id: its report reads them in pages (without it SQLite took the
-- owner's index and sorted the campaign at every page: 5.5 s for 100,000 rows).
CREATE INDEX messages_campaign_id ON messages (campaign_id, id) WHERE campaign_id IS NOT NULL;

-- When the contact last wrote to one of the owner's numbers (NULL: never).
ALTER TABLE contacts ADD COLUMN replied_at REAL;
