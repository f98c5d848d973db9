-- Rollups per band, so that reads cost what the answer costs: heart rate per minute,
-- per hour and per UTC day (count, sum, min, max: the mean is sum / count), and per
-- day the minute epochs (count, steps, minutes worn). Ingest adds what it inserts in
-- the same transaction (ingest/rollups.py); ingest.rollups.refresh_rollups recomputes
-- a band's days from the raw rows, for anything else that writes records (imports,
-- tests, erasure). A band_days row also says "this day is maintained": the API reads
-- rollups only for such days and the raw rows for any other. Its version goes up with
-- every change to the day, so day_summaries (the API's computed daily summary, with
-- resting heart rate, sleep and HRV) is reused only while it is current, and only by
-- the code and fitted parameters that computed it.
CREATE TABLE hr_1m (
    band_id text NOT NULL,
    t       timestamptz NOT NULL,
    n       integer NOT NULL,
    bpm_sum integer NOT NULL,
    bpm_min smallint NOT NULL,
    bpm_max smallint NOT NULL,
    PRIMARY KEY (band_id, t)
);

CREATE TABLE hr_1h (
    band_id text NOT NULL,
    t       timestamptz NOT NULL,
    n       integer NOT NULL,
    bpm_sum bigint NOT NULL,
    bpm_min smallint NOT NULL,
    bpm_max smallint NOT NULL,
    PRIMARY KEY (band_id, t)
);

CREATE TABLE band_days (
    band_id  text NOT NULL REFERENCES bands ON DELETE CASCADE,
    day      date NOT NULL,
    hr_n     integer NOT NULL DEFAULT 0,
    hr_sum   bigint NOT NULL DEFAULT 0,
    hr_min   smallint,
    hr_max   smallint,
    epochs   integer NOT NULL DEFAULT 0,
    steps    bigint NOT NULL DEFAULT 0,
    worn_min integer NOT NULL DEFAULT 0,
    version  bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (band_id, day)
);

CREATE TABLE day_summaries (
    band_id       text NOT NULL,
    day           date NOT NULL,
    version       bigint NOT NULL,
    computed_with text NOT NULL,  -- the summary code and fitted parameters it came from
    summary       jsonb NOT NULL,
    PRIMARY KEY (band_id, day)
);

-- the data already stored
INSERT INTO hr_1m
SELECT band_id, date_bin('1 minute', t, TIMESTAMPTZ '2000-01-01 00:00+00'), count(*),
       sum(bpm), min(bpm), max(bpm)
FROM hr GROUP BY 1, 2;
INSERT INTO hr_1h
SELECT band_id, date_bin('1 hour', t, TIMESTAMPTZ '2000-01-01 00:00+00'), sum(n),
       sum(bpm_sum), min(bpm_min), max(bpm_max)
FROM hr_1m GROUP BY 1, 2;
INSERT INTO band_days (band_id, day, hr_n, hr_sum, hr_min, hr_max, epochs, steps, worn_min)
SELECT band_id, day, coalesce(sum(hr_n), 0), coalesce(sum(hr_sum), 0), min(hr_min),
       max(hr_max), coalesce(sum(epochs), 0), coalesce(sum(steps), 0), coalesce(sum(worn), 0)
FROM (
    SELECT band_id, (t AT TIME ZONE 'UTC')::date AS day, n AS hr_n, bpm_sum AS hr_sum,
           bpm_min AS hr_min, bpm_max AS hr_max, NULL::int AS epochs, NULL::int AS steps,
           NULL::int AS worn
    FROM hr_1h
    UNION ALL
    SELECT band_id, (t AT TIME ZONE 'UTC')::date, NULL, NULL, NULL, NULL, 1, steps,
           worn::int
    FROM epochs
    UNION ALL
    SELECT band_id, (t AT TIME ZONE 'UTC')::date, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM falls
) x GROUP BY 1, 2;
