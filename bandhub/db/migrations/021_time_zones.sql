-- Each wearer lives in a time zone (IANA name): quiet hours, waking hours and alarms
-- are the wearer's local times. The API checks the name; UTC until one is set.
ALTER TABLE bands ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
