-- Version 24: several processes on one database (issue 22). ``python -m bot worker`` runs
-- N times; each number is sent from by one of them at a time, and each scheduled job runs
-- in one process, by a lease row (bot/storage/leases.py, bot/services/leases.py):
--
--   'sender:<id>'   the number's sending (its pace and daily cap held by one worker)
--   'job:<name>'    a scheduled job (campaign starts, automations, credits, ...)
--   'worker:<who>'  a worker's heartbeat (how many workers share the numbers)
--
-- ``holder`` is ``<hostname>:<pid>:<random>``; a lease is renewed while its holder lives
-- and may be taken by anyone once ``expires_at`` (epoch seconds) has passed.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX leases_holder ON leases (holder);

-- Which numbers have queued work: an index seek per number (the workers ask every few
-- seconds which numbers to take), not a scan of the queue.
CREATE INDEX messages_sender_queued ON messages (sender_id, planned_at)
    WHERE status = 'queued';
