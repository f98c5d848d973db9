-- Who acknowledged a fall alert first, and how it ended (false alarms measure the detector).
ALTER TABLE alerts ADD COLUMN acknowledged_by bigint REFERENCES contacts ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE alerts ADD COLUMN resolved_at timestamptz;
ALTER TABLE alerts ADD COLUMN outcome text CHECK (outcome IN ('ok', 'needed_help', 'false_alarm'));
