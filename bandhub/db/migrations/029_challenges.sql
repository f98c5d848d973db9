-- A step challenge among wearers (e.g. a family's), set up by an account that may see
-- every participant's summaries; its leaderboard is shown only to such accounts
-- (api/challenges.py). Steps are read from the local days kept per band (band_days).
CREATE TABLE challenges (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    created_by bigint REFERENCES accounts ON DELETE SET NULL,
    first_day  date NOT NULL,
    last_day   date NOT NULL CHECK (last_day >= first_day AND last_day - first_day < 31),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE challenge_bands (
    challenge_id bigint NOT NULL REFERENCES challenges ON DELETE CASCADE,
    band_id      text NOT NULL REFERENCES bands ON DELETE CASCADE,
    PRIMARY KEY (challenge_id, band_id)
);
CREATE INDEX challenge_bands_band ON challenge_bands (band_id);
