-- Version 23, PostgreSQL: the twin of bot/storage/migrations/0023_contact_dates.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

CREATE TABLE contact_dates (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    attribute  TEXT    NOT NULL,
    owner_id   BIGINT NOT NULL,
    md         BIGINT NOT NULL,
    year       BIGINT,
    PRIMARY KEY (contact_id, attribute)
);
CREATE INDEX contact_dates_day ON contact_dates (owner_id, attribute, md, year);

CREATE TABLE contact_dates_read (
    owner_id  BIGINT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    attribute TEXT    NOT NULL,
    upto      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (owner_id, attribute)
);

CREATE TABLE automation_date_runs (
    automation_id BIGINT PRIMARY KEY REFERENCES automations (id) ON DELETE CASCADE,
    upto          TEXT    NOT NULL
);

CREATE INDEX contacts_updated ON contacts (updated_at);
