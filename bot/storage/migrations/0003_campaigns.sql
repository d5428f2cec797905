-- Version 3: templates and campaigns in use.

-- The variables (attribute columns) a list's contacts brought, so that a template can be
-- checked against them without reading every contact. JSON array of names.
ALTER TABLE contact_lists ADD COLUMN variables TEXT NOT NULL DEFAULT '[]';

UPDATE contact_lists SET variables = COALESCE((
    SELECT json_group_array(DISTINCT a.key)
    FROM list_members m JOIN contacts c ON c.id = m.contact_id, json_each(c.attributes) a
    WHERE m.list_id = contact_lists.id
), '[]');

-- One wizard draft per owner at a time.
CREATE UNIQUE INDEX campaigns_one_draft ON campaigns (owner_id) WHERE status = 'draft';

-- A template being composed in chat (one per owner), so a restart loses nothing.
CREATE TABLE template_drafts (
    owner_id   INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    draft      TEXT    NOT NULL,                  -- JSON: step, name, variants, media, ...
    updated_at REAL    NOT NULL
);
