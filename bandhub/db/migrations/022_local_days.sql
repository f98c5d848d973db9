-- Days are the wearer's local days (docs/time.md). A band's zone history says which
-- IANA zone was in force from when: past days keep the zone they were lived in, and a
-- change applies from the minute it is made. A day never goes back: after a change to
-- a zone further west the day of the change lasts until the next midnight there
-- (longer), after a change eastwards it ends at the next midnight there (shorter).
--
-- band_days is keyed by that local day and carries its interval [t0, t1) (23 or 25 h
-- on a DST change, any length on the day of a change of zone) and the zone it began
-- in. Versions come from one sequence, so a rebuilt day never reuses a version a
-- stored summary could match. day_summaries stores the versions of the day and both
-- neighbours it was computed from (the night that ends on a day began the day before).

CREATE TABLE band_time_zones (
    band_id    text NOT NULL REFERENCES bands ON DELETE CASCADE,
    valid_from timestamptz NOT NULL,  -- '-infinity' for the first
    zone       text NOT NULL,
    day_floor  date,  -- the local day in progress at valid_from: later days are not before it
    PRIMARY KEY (band_id, valid_from)
);
INSERT INTO band_time_zones (band_id, valid_from, zone)
SELECT band_id, '-infinity', time_zone FROM bands;

-- The local day an instant belongs to.
CREATE FUNCTION band_local_day(b text, t timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT greatest((t AT TIME ZONE z.zone)::date, z.day_floor) FROM band_time_zones z
         WHERE z.band_id = b AND z.valid_from <= t ORDER BY z.valid_from DESC LIMIT 1),
        (t AT TIME ZONE 'UTC')::date)
$$;

-- The first instant whose date in ``zone`` is ``d`` or later: local midnight, or the
-- end of a DST gap at midnight, or the first of two midnights when clocks go back.
CREATE FUNCTION zone_midnight(d date, zone text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ((m - interval '1 hour') AT TIME ZONE zone)::date >= d THEN m - interval '1 hour'
        WHEN ((m - interval '30 minutes') AT TIME ZONE zone)::date >= d
            THEN m - interval '30 minutes'
        ELSE m END
    FROM (SELECT d::timestamp AT TIME ZONE zone AS m) x
$$;

-- The first instant of band b's local day d (the end of d is the start of d + 1).
CREATE FUNCTION band_day_start(b text, d date) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    s record;
    c timestamptz;
BEGIN
    FOR s IN
        SELECT zone, valid_from, day_floor,
               lead(valid_from, 1, 'infinity') OVER (ORDER BY valid_from) AS valid_to
        FROM band_time_zones WHERE band_id = b ORDER BY valid_from
    LOOP
        IF s.valid_from > '-infinity'
           AND greatest((s.valid_from AT TIME ZONE s.zone)::date, s.day_floor) >= d THEN
            c := s.valid_from;
        ELSE
            c := greatest(zone_midnight(d, s.zone), s.valid_from);
        END IF;
        IF c < s.valid_to THEN
            RETURN c;
        END IF;
    END LOOP;
    RETURN zone_midnight(d, 'UTC');
END
$$;

-- The zone a band's day began in.
CREATE FUNCTION band_zone_at(b text, t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT zone FROM band_time_zones WHERE band_id = b AND valid_from <= t
                     ORDER BY valid_from DESC LIMIT 1), 'UTC')
$$;

CREATE SEQUENCE band_day_version;
ALTER TABLE band_days
    ADD COLUMN t0 timestamptz,
    ADD COLUMN t1 timestamptz,
    ADD COLUMN zone text,
    ADD COLUMN active_min integer NOT NULL DEFAULT 0,
    ALTER COLUMN version SET DEFAULT nextval('band_day_version');

-- Fill in a new day's interval and zone, whoever inserts it.
CREATE FUNCTION band_days_bounds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.t0 IS NULL THEN
        NEW.t0 := band_day_start(NEW.band_id, NEW.day);
        NEW.t1 := band_day_start(NEW.band_id, NEW.day + 1);
        NEW.zone := band_zone_at(NEW.band_id, NEW.t0);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER band_days_bounds BEFORE INSERT ON band_days
FOR EACH ROW EXECUTE FUNCTION band_days_bounds();

-- Recompute band b's local days that [lo, hi) touches from hr_1m and the epochs (the
-- minute heart-rate rollup is exact for any zone: every midnight is on a minute).
CREATE FUNCTION refresh_band_days(b text, lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d0 date := band_local_day(b, lo);
    d1 date := band_local_day(b, hi - interval '1 microsecond');
    a timestamptz := band_day_start(b, d0);
    z timestamptz := band_day_start(b, d1 + 1);
BEGIN
    IF lo >= hi THEN
        RETURN;
    END IF;
    DELETE FROM band_days WHERE band_id = b AND (day BETWEEN d0 AND d1 OR (t0 < z AND t1 > a));
    INSERT INTO band_days (band_id, day, t0, t1, zone, hr_n, hr_sum, hr_min, hr_max, epochs,
                           steps, worn_min, active_min)
    SELECT b, x.day, x.t0, x.t1, band_zone_at(b, x.t0), coalesce(h.n, 0), coalesce(h.s, 0),
           h.lo, h.hi, coalesce(e.n, 0), coalesce(e.steps, 0), coalesce(e.worn, 0),
           coalesce(e.active, 0)
    FROM (SELECT g::date AS day, band_day_start(b, g::date) AS t0,
                 band_day_start(b, g::date + 1) AS t1
          FROM generate_series(d0, d1, interval '1 day') g) x
    LEFT JOIN LATERAL (SELECT sum(n) AS n, sum(bpm_sum) AS s, min(bpm_min) AS lo,
                              max(bpm_max) AS hi
                       FROM hr_1m WHERE band_id = b AND t >= x.t0 AND t < x.t1) h ON true
    LEFT JOIN LATERAL (SELECT count(*) AS n, sum(steps) AS steps,
                              count(*) FILTER (WHERE worn) AS worn,
                              count(*) FILTER (WHERE worn AND steps >= 100) AS active
                       FROM epochs WHERE band_id = b AND t >= x.t0 AND t < x.t1) e ON true
    WHERE x.t0 < x.t1;
END
$$;

-- A band's days as they are kept, from lo to the last maintained day.
CREATE FUNCTION refresh_band_days_from(b text, lo timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first_t timestamptz;
    last_t timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(4242011, hashtext(b));
    SELECT min(t0), max(t1) INTO first_t, last_t FROM band_days WHERE band_id = b;
    -- not before the oldest epoch kept (retention): older days keep their keys
    first_t := greatest(first_t, (SELECT min(t) FROM epochs WHERE band_id = b));
    IF last_t IS NOT NULL THEN
        PERFORM refresh_band_days(b, greatest(lo, first_t), last_t);
    END IF;
END
$$;

-- A change of zone: the first zone set over the default UTC nobody chose applies to
-- the whole past; any later one from this minute on (the past keeps its zone).
CREATE FUNCTION band_zone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v timestamptz := date_trunc('minute', now());
BEGIN
    IF (SELECT count(*) FROM band_time_zones WHERE band_id = NEW.band_id) <= 1
       AND coalesce((SELECT zone FROM band_time_zones WHERE band_id = NEW.band_id
                     AND valid_from = '-infinity'), 'UTC') = 'UTC' THEN
        INSERT INTO band_time_zones (band_id, valid_from, zone)
        VALUES (NEW.band_id, '-infinity', NEW.time_zone)
        ON CONFLICT (band_id, valid_from) DO UPDATE SET zone = EXCLUDED.zone;
        PERFORM refresh_band_days_from(NEW.band_id, '-infinity');
    ELSE
        INSERT INTO band_time_zones (band_id, valid_from, zone, day_floor)
        VALUES (NEW.band_id, v, NEW.time_zone,
                band_local_day(NEW.band_id, v - interval '1 microsecond'))
        ON CONFLICT (band_id, valid_from) DO UPDATE SET zone = EXCLUDED.zone;
        PERFORM refresh_band_days_from(NEW.band_id, v);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER band_zone_changed AFTER UPDATE OF time_zone ON bands
FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
EXECUTE FUNCTION band_zone_changed();

CREATE FUNCTION band_first_zone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO band_time_zones (band_id, valid_from, zone)
    VALUES (NEW.band_id, '-infinity', NEW.time_zone) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER band_first_zone AFTER INSERT ON bands
FOR EACH ROW EXECUTE FUNCTION band_first_zone();

-- The days already kept, rebuilt as local days (their data spans whole UTC days).
UPDATE band_days SET t0 = day::timestamp AT TIME ZONE 'UTC',
                     t1 = (day + 1)::timestamp AT TIME ZONE 'UTC', zone = 'UTC';
SELECT refresh_band_days(band_id, min(t0), max(t1)) FROM band_days GROUP BY band_id;
ALTER TABLE band_days ALTER COLUMN t0 SET NOT NULL, ALTER COLUMN t1 SET NOT NULL,
    ALTER COLUMN zone SET NOT NULL;

TRUNCATE day_summaries;
ALTER TABLE day_summaries ADD COLUMN depends_on bigint[] NOT NULL DEFAULT '{}';
