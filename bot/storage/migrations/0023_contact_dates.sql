-- Version 23: date-based messages (issue 21, item 2). A date attribute of the contacts
-- read once, kept as an index, so that the day's date messages are an index range, not a
-- scan parsing every contact's attributes (bot/services/automations_dates.py).

-- One contact's value of one attribute (``birthday``, ``appointment``, ...) as
-- ``bot/services/dates.py`` reads it: ``md`` month * 100 + day (0: the value is there but
-- is no date we can read, counted as invalid), ``year`` when it has one. Only the
-- attributes a date message uses are kept; a contact without the attribute has no row.
CREATE TABLE contact_dates (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    attribute  TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL,
    md         INTEGER NOT NULL,
    year       INTEGER,
    PRIMARY KEY (contact_id, attribute)
) WITHOUT ROWID;
CREATE INDEX contact_dates_day ON contact_dates (owner_id, attribute, md, year);

-- How far each (owner, attribute) is read: contacts updated at or after ``upto`` are read
-- again at the next tick.
CREATE TABLE contact_dates_read (
    owner_id  INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    attribute TEXT    NOT NULL,
    upto      REAL    NOT NULL,
    PRIMARY KEY (owner_id, attribute)
);

-- A date message's last send date evaluated (ISO): the engine evaluates each later one
-- once, and one again only when contacts changed.
CREATE TABLE automation_date_runs (
    automation_id INTEGER PRIMARY KEY REFERENCES automations (id) ON DELETE CASCADE,
    upto          TEXT    NOT NULL
);

-- The contacts changed since a time, for reading their dates again. On ``updated_at``
-- alone: an (owner_id, ...) index would be what SQLite picks for every ``owner_id = ?
-- AND id IN (...)`` query, in place of the primary key.
CREATE INDEX contacts_updated ON contacts (updated_at);
