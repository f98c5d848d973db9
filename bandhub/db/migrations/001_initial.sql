-- Records are keyed (band_id, t, seq): seq is unique per band and stream, and t is
-- fixed by the band when it makes the record, so a re-sent record has the same key.
-- (TimescaleDB requires the time column in every unique index of a hypertable.)
CREATE TABLE bands (
    band_id       text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz
);

CREATE TABLE hr (
    band_id     text NOT NULL REFERENCES bands,
    seq         bigint NOT NULL,
    t           timestamptz NOT NULL,
    bpm         smallint NOT NULL,
    rr_ms       real[] NOT NULL DEFAULT '{}',
    contact     boolean,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (band_id, t, seq)
);

CREATE TABLE epochs (
    band_id        text NOT NULL REFERENCES bands,
    seq            bigint NOT NULL,
    t              timestamptz NOT NULL,
    steps          integer NOT NULL,
    activity_count integer NOT NULL,
    enmo_mg        integer NOT NULL,
    hr_mean        smallint,
    worn           boolean NOT NULL,
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (band_id, t, seq)
);

CREATE TABLE falls (
    band_id     text NOT NULL REFERENCES bands,
    seq         bigint NOT NULL,
    t           timestamptz NOT NULL,
    fs_hz       integer NOT NULL,
    pre_samples integer NOT NULL,
    ax_g        real[] NOT NULL,
    ay_g        real[] NOT NULL,
    az_g        real[] NOT NULL,
    confirmed   boolean,
    confidence  real,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (band_id, t, seq)
);

CREATE TABLE buttons (
    band_id     text NOT NULL REFERENCES bands,
    seq         bigint NOT NULL,
    t           timestamptz NOT NULL,
    press       text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (band_id, t, seq)
);

CREATE TABLE battery (
    band_id     text NOT NULL REFERENCES bands,
    seq         bigint NOT NULL,
    t           timestamptz NOT NULL,
    level       smallint NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (band_id, t, seq)
);

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    band_id     text,
    stream      text,
    reason      text NOT NULL,
    payload     bytea NOT NULL
);

CREATE TABLE contacts (
    id       bigserial PRIMARY KEY,
    band_id  text NOT NULL REFERENCES bands ON DELETE CASCADE,
    name     text NOT NULL,
    channel  text NOT NULL DEFAULT 'webhook',
    url      text NOT NULL,
    secret   text NOT NULL,
    position integer NOT NULL DEFAULT 0
);

CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    band_id     text NOT NULL REFERENCES bands,
    kind        text NOT NULL,
    state       text NOT NULL,
    event_t     timestamptz NOT NULL,
    fall_seq    bigint,
    confidence  real,
    created_at  timestamptz NOT NULL DEFAULT now(),
    dispatch_at timestamptz NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    UNIQUE (band_id, kind, fall_seq)
);

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    contact_id      bigint NOT NULL REFERENCES contacts ON DELETE CASCADE,
    webhook_id      text NOT NULL UNIQUE,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
