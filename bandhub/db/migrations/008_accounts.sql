-- Who is who: accounts and their sessions, single-use e-mail tokens, the roles a person
-- has for a band (owner, a share with scopes, the band's care organisation, support),
-- the consents behind shares, and an append-only audit log per wearer.

CREATE TABLE accounts (
    id                bigserial PRIMARY KEY,
    email             text NOT NULL,
    password_hash     text NOT NULL,
    display_name      text NOT NULL DEFAULT '',
    email_verified_at timestamptz,
    is_support        boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

-- A login: the refresh token (stored as its SHA-256) and every access token minted from
-- it carry the session id; revoking the session ends both at once.
CREATE TABLE sessions (
    id                 bigserial PRIMARY KEY,
    account_id         bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    refresh_hash       text NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_used_at       timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    client             text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;

-- Single-use tokens sent by e-mail (address verification, password reset), stored hashed.
CREATE TABLE email_tokens (
    token_hash text PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Failed logins and other counted actions, for throttling across API replicas.
CREATE TABLE rate_counters (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);

-- The owner is now an account; the old free-text owner column goes.
ALTER TABLE bands DROP COLUMN owner;
ALTER TABLE bands ADD COLUMN owner_id bigint REFERENCES accounts ON DELETE SET NULL;
CREATE INDEX bands_owner ON bands (owner_id);

CREATE TABLE organisations (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_members (
    org_id     bigint NOT NULL REFERENCES organisations ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'staff')),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, account_id)
);

-- A band in an organisation's care (one organisation at a time), put there by its owner.
ALTER TABLE bands ADD COLUMN org_id bigint REFERENCES organisations ON DELETE SET NULL;

-- An invitation by e-mail, and the share it becomes once accepted. The scopes are what
-- the owner grants: summaries (and history), live, alerts, settings.
CREATE TABLE shares (
    id           bigserial PRIMARY KEY,
    band_id      text NOT NULL REFERENCES bands ON DELETE CASCADE,
    email        text NOT NULL,
    role         text NOT NULL CHECK (role IN ('family', 'caregiver')),
    scopes       text[] NOT NULL,
    token_hash   text UNIQUE,
    invited_by   bigint REFERENCES accounts ON DELETE SET NULL,
    invited_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    account_id   bigint REFERENCES accounts ON DELETE CASCADE,
    accepted_at  timestamptz,
    revoked_at   timestamptz,
    CHECK (scopes <@ ARRAY['summaries', 'live', 'alerts', 'settings']::text[])
);
CREATE INDEX shares_account ON shares (account_id) WHERE revoked_at IS NULL;
CREATE INDEX shares_band ON shares (band_id);

-- The wearer's consent to each share and each organisation's care: who, what, when
-- granted, when revoked. Kept when the share itself is revoked.
CREATE TABLE consents (
    id          bigserial PRIMARY KEY,
    band_id     text NOT NULL REFERENCES bands ON DELETE CASCADE,
    grantee     text NOT NULL,
    scopes      text[] NOT NULL,
    share_id    bigint REFERENCES shares ON DELETE SET NULL,
    org_id      bigint REFERENCES organisations ON DELETE SET NULL,
    given_by    bigint REFERENCES accounts ON DELETE SET NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    revoked_by  bigint REFERENCES accounts ON DELETE SET NULL
);
CREATE INDEX consents_band ON consents (band_id, id);

-- Who read or changed what, when, from where. Append-only: no UPDATE or DELETE.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    band_id    text,
    account_id bigint,
    actor      text NOT NULL,
    action     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    client_ip  text
);
CREATE INDEX audit_log_band ON audit_log (band_id, id);

CREATE FUNCTION bandhub_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION bandhub_audit_append_only();

-- An alert acknowledged by a signed-in person rather than by a contact's link.
ALTER TABLE alerts ADD COLUMN acknowledged_by_account bigint REFERENCES accounts ON DELETE SET NULL;

CREATE OR REPLACE FUNCTION bandhub_alert_timeline() RETURNS trigger AS $$
BEGIN
    INSERT INTO alert_timeline (alert_id, event, detail) VALUES (
        NEW.id,
        CASE WHEN TG_OP = 'INSERT' THEN 'opened' ELSE NEW.state END,
        jsonb_strip_nulls(jsonb_build_object(
            'state', NEW.state, 'kind', NEW.kind, 'confidence', NEW.confidence,
            'dispatch_at', CASE WHEN TG_OP = 'INSERT' THEN NEW.dispatch_at END,
            'acknowledged_by', NEW.acknowledged_by,
            'acknowledged_by_account', NEW.acknowledged_by_account, 'outcome', NEW.outcome)));
    RETURN NEW;
END $$ LANGUAGE plpgsql;

-- Contacts can opt out; the owner can send a test alert.
ALTER TABLE contacts ADD COLUMN opted_out_at timestamptz;
ALTER TABLE contacts ADD COLUMN added_by bigint REFERENCES accounts ON DELETE SET NULL;

-- The signing key of access tokens, made once per database like the ack-link key.
INSERT INTO server_keys (name, value) VALUES
    ('access_token', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));
