-- 'alert': the alert itself; 'handled': "someone is handling it", sent to the contacts
-- already alerted when another contact acknowledges.
ALTER TABLE deliveries ADD COLUMN kind text NOT NULL DEFAULT 'alert'
    CHECK (kind IN ('alert', 'handled'));
