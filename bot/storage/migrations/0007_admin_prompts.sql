-- Version 7: what an admin's next typed message answers (the reason for declining a
-- registration), one per admin. Admins are Telegram ids from ADMIN_IDS, not owners.
CREATE TABLE admin_prompts (
    admin_id   INTEGER PRIMARY KEY,
    action     TEXT    NOT NULL,
    payload    TEXT    NOT NULL DEFAULT '{}',
    created_at REAL    NOT NULL
);
