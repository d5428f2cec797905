-- Version 3, PostgreSQL: the twin of bot/storage/migrations/0003_campaigns.sql
-- (same tables, columns, indexes and constraints: the comments there say why).

ALTER TABLE contact_lists ADD COLUMN variables TEXT NOT NULL DEFAULT '[]';

UPDATE contact_lists SET variables = COALESCE((
    SELECT json_agg(DISTINCT a.key)::text
    FROM list_members m JOIN contacts c ON c.id = m.contact_id,
         jsonb_object_keys(CASE WHEN jsonb_typeof(c.attributes::jsonb) = 'object'
                                THEN c.attributes::jsonb ELSE '{}'::jsonb END) AS a (key)
    WHERE m.list_id = contact_lists.id
), '[]');

CREATE UNIQUE INDEX campaigns_one_draft ON campaigns (owner_id) WHERE status = 'draft';

CREATE TABLE template_drafts (
    owner_id   BIGINT PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    draft      TEXT    NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
