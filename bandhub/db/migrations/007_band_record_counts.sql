-- How many records each band has stored, kept by ingest in the transaction that
-- inserts them, so listing bands reads one row per band instead of counting every
-- row of five time-series tables (76 s with a month of 50 bands). Ingest is the only
-- writer of the record tables; anything else that adds or deletes records (an
-- import, an erasure) must adjust this count in the same transaction.
ALTER TABLE bands ADD COLUMN records bigint NOT NULL DEFAULT 0;
UPDATE bands b SET records =
      (SELECT count(*) FROM hr t WHERE t.band_id = b.band_id)
    + (SELECT count(*) FROM epochs t WHERE t.band_id = b.band_id)
    + (SELECT count(*) FROM falls t WHERE t.band_id = b.band_id)
    + (SELECT count(*) FROM buttons t WHERE t.band_id = b.band_id)
    + (SELECT count(*) FROM battery t WHERE t.band_id = b.band_id);
