-- Ingest workers' MQTT sessions (ingest/sessions.py): a worker holds its slot with an
-- advisory lock; a registered slot that is not drained and whose lock is free belongs
-- to a worker that is gone, and a live worker drains its persistent session.
CREATE TABLE ingest_sessions (
    slot             integer PRIMARY KEY,
    client_id        text NOT NULL,
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    drained          boolean NOT NULL DEFAULT false,
    drained_at       timestamptz,
    drained_messages integer,
    drained_by       text
);
