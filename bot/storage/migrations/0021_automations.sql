-- Version 21: automations (issue 21): standing rules that produce outbox messages by
-- themselves (sequences, date-based messages, keyword replies), through the same outbox,
-- pacing, credits and opt-outs as campaigns and API messages (bot/services/automations.py).

-- One automation of an owner: its kind, its name, on or paused (``paused_reason``:
-- 'owner' when the owner paused it, 'balance' when it met an empty balance), and its
-- kind's own settings as JSON (``config``: a sequence's list and steps, a date message's
-- column and offset, a keyword reply's words).
CREATE TABLE automations (
    id            INTEGER PRIMARY KEY,
    owner_id      INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('sequence', 'date', 'keyword')),
    name          TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'on' CHECK (state IN ('on', 'paused')),
    paused_reason TEXT,
    config        TEXT    NOT NULL DEFAULT '{}',
    -- sequences: the list joins seen up to here (``added_at`` epoch seconds) are enrolled
    watermark     REAL,
    created_at    REAL    NOT NULL,
    updated_at    REAL    NOT NULL
);
CREATE INDEX automations_owner ON automations (owner_id, state);

-- The automation that produced a message (NULL: a campaign's or an API message).
ALTER TABLE messages ADD COLUMN automation_id INTEGER
    REFERENCES automations (id) ON DELETE SET NULL;
CREATE INDEX messages_automation ON messages (automation_id, status)
    WHERE automation_id IS NOT NULL;

-- Sequences: who is in, and their next step (``next_at``: when it is due; NULL once they
-- finished or stopped, ``stopped`` says why: 'replied', 'opted_out', 'left', 'done').
-- ``run``: 0 for the first time through; a rejoin that restarts the sequence (when the
-- sequence says so) counts up, and its steps are other occurrences ('step:<n>#<run>').
CREATE TABLE automation_enrolments (
    automation_id INTEGER NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    joined_at     REAL    NOT NULL,
    next_step     INTEGER NOT NULL DEFAULT 0,
    next_at       REAL,
    stopped       TEXT,
    run           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (automation_id, contact_id)
) WITHOUT ROWID;
-- A sequence's due steps in order (the engine reads them batch by batch).
CREATE INDEX automation_enrolments_due ON automation_enrolments (automation_id, next_at)
    WHERE next_at IS NOT NULL;
-- A contact's enrolments (deleting the contact deletes them).
CREATE INDEX automation_enrolments_contact ON automation_enrolments (contact_id);

-- One produced message per occurrence, never two: a sequence's 'step:<n>', a date
-- message's '<YYYY-MM-DD>' (the date it is for), a keyword reply's '<epoch seconds of the
-- reply>'.
CREATE TABLE automation_sends (
    automation_id INTEGER NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    occurrence    TEXT    NOT NULL,
    message_id    INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    at            REAL    NOT NULL,
    PRIMARY KEY (automation_id, contact_id, occurrence)
) WITHOUT ROWID;
CREATE INDEX automation_sends_at ON automation_sends (automation_id, at);
CREATE INDEX automation_sends_message ON automation_sends (message_id)
    WHERE message_id IS NOT NULL;
