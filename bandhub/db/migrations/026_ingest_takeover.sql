-- When a live worker took over a gone worker's session (took its slot's lock) and when
-- the first of the messages queued for it reached the live worker: how long a killed
-- worker's share waits (docs/scaling.md, tests/ingest/test_workers.py).
ALTER TABLE ingest_sessions ADD COLUMN adopted_at timestamptz,
                            ADD COLUMN first_drained_at timestamptz;
