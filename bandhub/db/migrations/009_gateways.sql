-- Gateways are principals: each has its own MQTT credentials (stored hashed) and a
-- set of bands it may publish records for and receive commands for.
-- The gateways table exists since 006 (latest status and location per gateway id);
-- a row with registered_at set is a registered gateway, one without is only a status
-- seen on the broker.
ALTER TABLE gateways ALTER COLUMN state DROP NOT NULL;
ALTER TABLE gateways
    ADD COLUMN account_id    bigint,  -- the owner's account (its foreign key comes with the accounts tables)
    ADD COLUMN mqtt_username text UNIQUE,
    ADD COLUMN password_hash text,
    ADD COLUMN registered_at timestamptz,
    ADD COLUMN revoked_at    timestamptz,
    ADD CONSTRAINT gateways_registered_has_credentials
        CHECK (registered_at IS NULL OR (mqtt_username IS NOT NULL AND password_hash IS NOT NULL));

-- Which bands a gateway may publish for and receive commands for. A band may be bound
-- to several gateways (a home hub and a phone). No foreign key to bands: a band is
-- bound when it is paired, before ingest has registered it on its first data.
CREATE TABLE gateway_bands (
    gateway_id text NOT NULL REFERENCES gateways ON DELETE CASCADE,
    band_id    text NOT NULL,
    bound_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway_id, band_id)
);
CREATE INDEX gateway_bands_band ON gateway_bands (band_id);
