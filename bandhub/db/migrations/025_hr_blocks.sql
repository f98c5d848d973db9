-- Heart-rate history in compact blocks: one row per band per hour, its samples as
-- parallel arrays, so a sample costs ~15-25 B instead of ~160 B as a row of its own
-- (a row's header and its primary-key entry alone are ~60 B). Recent samples stay
-- rows in `hr`, where ingest writes them (keyed, so re-sent records are found);
-- hr_compact() moves closed hours of `hr` into blocks (the monitor's job,
-- ingest/compaction.py), merging with a block that is already there (a late backlog).
--
-- The arrays are in (t, seq) order and encoded so regular data compresses to almost
-- nothing (TOAST's pglz): seq and t as residuals from a straight line (seq0 + i,
-- t_first + i * step_us), received_at as microseconds after t, rr_ms as the text of
-- each sample's real[] (the same values: real's text form round-trips).
-- Readers see both forms: the view hr_all (every sample of a band), the function
-- hr_range(band, lo, hi) (a time range, reading only the blocks it overlaps) and
-- hr_last(band, at) (the latest sample at or before a time).
CREATE TABLE hr_blocks (
    band_id text NOT NULL,
    t0      timestamptz NOT NULL,  -- the hour: date_bin('1 hour', t, 2000-01-01)
    n       integer NOT NULL,
    t_first timestamptz NOT NULL,
    t_last  timestamptz NOT NULL,
    seq0    bigint NOT NULL,
    step_us bigint NOT NULL,
    seq_d   bigint[] NOT NULL,     -- seq - seq0 - i
    t_d     bigint[] NOT NULL,     -- µs after t_first - i * step_us
    bpm     smallint[] NOT NULL,
    rr_ms   text[] NOT NULL,
    contact boolean[] NOT NULL,
    rcv_us  bigint[] NOT NULL,     -- received_at - t, µs
    PRIMARY KEY (band_id, t0)
);

-- a block's samples (i from 0), in (t, seq) order
CREATE FUNCTION hr_unpack(b hr_blocks)
RETURNS TABLE (band_id text, seq bigint, t timestamptz, bpm smallint, rr_ms real[],
               contact boolean, received_at timestamptz)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT b.band_id, b.seq0 + u.sd + (u.i - 1),
           b.t_first + (u.td + (u.i - 1) * b.step_us) * interval '1 microsecond',
           u.bpm, u.rr::real[], u.contact,
           b.t_first + (u.td + (u.i - 1) * b.step_us + u.rcv) * interval '1 microsecond'
    FROM unnest(b.seq_d, b.t_d, b.bpm, b.rr_ms, b.contact, b.rcv_us)
         WITH ORDINALITY AS u(sd, td, bpm, rr, contact, rcv, i)
$$;

CREATE VIEW hr_all AS
SELECT band_id, seq, t, bpm, rr_ms, contact, received_at FROM hr
UNION ALL
SELECT u.* FROM hr_blocks b CROSS JOIN LATERAL hr_unpack(b) u;

CREATE FUNCTION hr_range(p_band text, lo timestamptz, hi timestamptz)
RETURNS TABLE (band_id text, seq bigint, t timestamptz, bpm smallint, rr_ms real[],
               contact boolean, received_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT h.band_id, h.seq, h.t, h.bpm, h.rr_ms, h.contact, h.received_at FROM hr h
    WHERE h.band_id = p_band AND h.t >= lo AND h.t < hi
    UNION ALL
    SELECT u.* FROM hr_blocks b CROSS JOIN LATERAL hr_unpack(b) u
    WHERE b.band_id = p_band AND b.t0 > lo - interval '1 hour' AND b.t0 < hi
      AND u.t >= lo AND u.t < hi
$$;

CREATE FUNCTION hr_last(p_band text, at timestamptz)
RETURNS TABLE (band_id text, seq bigint, t timestamptz, bpm smallint, rr_ms real[],
               contact boolean, received_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT * FROM (
        (SELECT h.band_id, h.seq, h.t, h.bpm, h.rr_ms, h.contact, h.received_at FROM hr h
         WHERE h.band_id = p_band AND h.t <= at ORDER BY h.t DESC, h.seq DESC LIMIT 1)
        UNION ALL
        (SELECT u.* FROM (SELECT * FROM hr_blocks b WHERE b.band_id = p_band
                          AND b.t_first <= at ORDER BY b.t0 DESC LIMIT 1) b
         CROSS JOIN LATERAL hr_unpack(b) u WHERE u.t <= at
         ORDER BY u.t DESC, u.seq DESC LIMIT 1)
    ) x ORDER BY t DESC, seq DESC LIMIT 1
$$;

-- Move the hours of `hr` that end before `before` into blocks (merged with a block of
-- the same hour), about `max_blocks` of them, band by band and in time order; returns
-- the blocks written. Each band's old rows are one range of hr's key, found with a
-- walk over the key (no scan of the table). Takes the per-band lock ingest takes
-- shared (ingest/rollups.py), exclusively, so it never runs between ingest's duplicate
-- check and its insert.
CREATE FUNCTION hr_compact(before timestamptz, max_blocks integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := date_bin('1 hour', before, TIMESTAMPTZ '2000-01-01 00:00+00');
    band text;
    lo timestamptz;
    hi timestamptz;
    got integer;
    written integer := 0;
BEGIN
    PERFORM set_config('extra_float_digits', '3', true);  -- rr_ms's text exact
    PERFORM set_config('work_mem', '64MB', true);  -- a band's day sorted in memory
    FOR band IN
        WITH RECURSIVE b(id) AS (
            (SELECT h.band_id FROM hr h ORDER BY 1 LIMIT 1)
            UNION ALL
            SELECT (SELECT h.band_id FROM hr h WHERE h.band_id > b.id ORDER BY 1 LIMIT 1)
            FROM b WHERE b.id IS NOT NULL
        ) SELECT id FROM b WHERE id IS NOT NULL
    LOOP
      PERFORM pg_advisory_xact_lock(4242011, hashtext(band));
      LOOP  -- this band's old rows, a range of hours at a time
        EXIT WHEN written >= max_blocks;
        SELECT min(h.t) INTO lo FROM hr h WHERE h.band_id = band;
        EXIT WHEN lo IS NULL OR lo >= cutoff;
        lo := date_bin('1 hour', lo, TIMESTAMPTZ '2000-01-01 00:00+00');
        hi := least(cutoff, lo + least(max_blocks - written, 100000) * interval '1 hour');
        WITH moved AS (
            DELETE FROM hr h WHERE h.band_id = band AND h.t >= lo AND h.t < hi
            RETURNING h.band_id, h.seq, h.t, h.bpm, h.rr_ms, h.contact, h.received_at
        ), old AS (
            DELETE FROM hr_blocks b WHERE b.band_id = band AND b.t0 >= lo AND b.t0 < hi
            AND b.t0 IN (SELECT date_bin('1 hour', m.t, TIMESTAMPTZ '2000-01-01 00:00+00')
                         FROM moved m)
            RETURNING b.*
        ), samples AS (
            SELECT DISTINCT ON (t, seq) * FROM (
                SELECT * FROM moved
                UNION ALL
                SELECT u.* FROM old b CROSS JOIN LATERAL hr_unpack(b::hr_blocks) u
            ) s ORDER BY t, seq
        ), ranked AS (
            SELECT s.*, date_bin('1 hour', s.t, TIMESTAMPTZ '2000-01-01 00:00+00') AS t0,
                   row_number() OVER w - 1 AS i, count(*) OVER p AS n,
                   first_value(s.t) OVER w AS t_first, first_value(s.seq) OVER w AS seq0,
                   max(s.t) OVER p AS t_last
            FROM samples s
            WINDOW p AS (PARTITION BY date_bin('1 hour', s.t,
                         TIMESTAMPTZ '2000-01-01 00:00+00')), w AS (p ORDER BY s.t, s.seq)
        ), stepped AS (
            SELECT r.*, CASE WHEN r.n > 1 THEN round(extract(epoch FROM r.t_last - r.t_first)
                        * 1000000 / (r.n - 1))::bigint ELSE 0 END AS step_us,
                   (extract(epoch FROM r.t - r.t_first) * 1000000)::bigint AS off_us
            FROM ranked r ORDER BY r.t0, r.i  -- the arrays' order (an aggregate takes
        )                                     -- its rows in the order they come)
        INSERT INTO hr_blocks
        SELECT band_id, t0, min(n), min(t_first), min(t_last), min(seq0), min(step_us),
               array_agg(seq - seq0 - i), array_agg(off_us - i * step_us), array_agg(bpm),
               array_agg(rr_ms::text), array_agg(contact),
               array_agg((extract(epoch FROM received_at - t) * 1000000)::bigint)
        FROM stepped GROUP BY band_id, t0 ORDER BY t0;
        GET DIAGNOSTICS got = ROW_COUNT;
        written := written + got;
      END LOOP;
      EXIT WHEN written >= max_blocks;
    END LOOP;
    RETURN written;
END
$$;

-- Put a block's samples back into `hr` (retention trims a block this way).
CREATE FUNCTION hr_explode(p_band text, p_t0 timestamptz)
RETURNS integer LANGUAGE sql AS $$
    WITH b AS (DELETE FROM hr_blocks b WHERE b.band_id = p_band AND b.t0 = p_t0 RETURNING b.*),
    ins AS (INSERT INTO hr (band_id, seq, t, bpm, rr_ms, contact, received_at)
            SELECT u.* FROM b CROSS JOIN LATERAL hr_unpack(b::hr_blocks) u
            ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*)::integer FROM ins
$$;

-- the history already stored (hours that ended 2 hours ago, the default of
-- BANDHUB_HR_COMPACT_AFTER_S); then hr is rewritten with what is left, which frees the
-- space (a DELETE leaves the table and its index at their size)
SELECT hr_compact(now() - interval '2 hours', 2147483647);
CREATE TEMP TABLE hr_left ON COMMIT DROP AS SELECT * FROM hr;
TRUNCATE hr;
INSERT INTO hr SELECT * FROM hr_left ORDER BY band_id, t, seq;
