-- Daily summaries kept current in the background (api/summary_refresh.py): a day
-- whose rollup changed is marked `dirty` (ingest sets it in the statement that adds
-- to the day; a rebuilt day is inserted dirty), which says "the stored summaries of
-- this day and of both neighbours may be out of date". The refresher finds dirty days
-- through the partial index (only they are in it), recomputes the stale summaries
-- among the three and clears the mark if the day did not change meanwhile.
-- computed_at debounces it: a summary is recomputed at most once per
-- BANDHUB_SUMMARY_DEBOUNCE_S, however often its day changes.
ALTER TABLE band_days ADD COLUMN dirty boolean NOT NULL DEFAULT true;
ALTER TABLE day_summaries ADD COLUMN computed_at timestamptz NOT NULL DEFAULT now();

-- the days kept so far: dirty unless their summary and both neighbours' are current
-- (as to the data; one from other code is marked when the refresher starts)
UPDATE band_days d SET dirty = false
WHERE EXISTS (SELECT 1 FROM day_summaries s WHERE s.band_id = d.band_id AND s.day = d.day
              AND s.depends_on = ARRAY[
                  coalesce((SELECT version FROM band_days p WHERE p.band_id = d.band_id
                            AND p.day = d.day - 1), 0),
                  d.version,
                  coalesce((SELECT version FROM band_days n WHERE n.band_id = d.band_id
                            AND n.day = d.day + 1), 0)]);

CREATE INDEX band_days_dirty ON band_days (band_id, day) WHERE dirty;
