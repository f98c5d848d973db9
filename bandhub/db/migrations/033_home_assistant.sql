-- Bands their owner chose to show in Home Assistant (MQTT discovery, docs/home-assistant.md).
-- A row means "exposed"; ``health`` adds heart rate and steps. Each choice is also a row
-- of ``consents`` (grantee 'Home Assistant'), revoked when the choice changes or ends;
-- the row goes when the band changes hands or is erased (it names the band).
CREATE TABLE ha_exposure (
    band_id    text PRIMARY KEY REFERENCES bands ON DELETE CASCADE,
    health     boolean NOT NULL DEFAULT false,
    consent_id bigint REFERENCES consents ON DELETE SET NULL,
    exposed_by bigint REFERENCES accounts ON DELETE SET NULL,
    exposed_at timestamptz NOT NULL DEFAULT now()
);
