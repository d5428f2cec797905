-- Version 5: real gateways. Cloud API numbers send only templates Meta approved. A template of ours can
-- name its approved twin: JSON {"name": "spring_sale", "language": "az",
-- "params": ["name", "city"]} (our variables filling {{1}}, {{2}}, ... in order).
ALTER TABLE templates ADD COLUMN cloud TEXT;

-- What WAHA said when asked whether a phone is on WhatsApp (before the first message to
-- it), per owner: a number that is not fails at once, without a send that counts against
-- the sender's reputation. Asked again after 30 days.
CREATE TABLE whatsapp_checks (
    owner_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    phone       TEXT    NOT NULL,
    on_whatsapp INTEGER NOT NULL,
    checked_at  REAL    NOT NULL,
    PRIMARY KEY (owner_id, phone)
) WITHOUT ROWID;
