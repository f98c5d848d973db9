-- The wearer's data is the wearer's: erasure keeps only what must be kept, in the
-- minimal form docs/privacy.md describes; retention and erasure may purge the audit
-- log, which stays append-only for everything else.

CREATE TABLE erasures (
    id         bigserial PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    band_hash  text NOT NULL,         -- HMAC of the band id: answerable, not readable
    requested  text NOT NULL CHECK (requested IN ('owner', 'account')),
    alerts     jsonb NOT NULL,        -- per alert: kind, opened, deliveries delivered
    rows       jsonb NOT NULL         -- rows removed per table
);

CREATE OR REPLACE FUNCTION bandhub_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('bandhub.purge', true) = 'on' THEN
        RETURN OLD;  -- erasure and retention, inside their own transaction
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END $$ LANGUAGE plpgsql;

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX dead_letters_received ON dead_letters (received_at);

INSERT INTO server_keys (name, value) VALUES
    ('erasure', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));
