-- The two tables that take nearly every record (heart rate every few seconds, minute
-- epochs) lose their foreign key to bands: checking it cost a lookup and a row lock
-- on bands for every record COPY writes (measured: 15-35 % of ingest's write time).
-- Ingest registers or checks each band in the transaction that stores its records
-- (ingest/writer.py), so the key held nothing ingest does not already hold; anything
-- else that writes records must do the same. Nothing deletes bands.
ALTER TABLE hr DROP CONSTRAINT IF EXISTS hr_band_id_fkey;
ALTER TABLE epochs DROP CONSTRAINT IF EXISTS epochs_band_id_fkey;
