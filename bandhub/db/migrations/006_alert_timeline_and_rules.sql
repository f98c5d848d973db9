-- An alert's timeline: every state change (by trigger) and every delivery attempt
-- (by the dispatcher), append-only, for the API and for after-the-fact review.
CREATE TABLE alert_timeline (
    id       bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    event    text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_timeline_alert ON alert_timeline (alert_id, id);

CREATE FUNCTION bandhub_alert_timeline() RETURNS trigger AS $$
BEGIN
    INSERT INTO alert_timeline (alert_id, event, detail) VALUES (
        NEW.id,
        CASE WHEN TG_OP = 'INSERT' THEN 'opened' ELSE NEW.state END,
        jsonb_strip_nulls(jsonb_build_object(
            'state', NEW.state, 'kind', NEW.kind, 'confidence', NEW.confidence,
            'dispatch_at', CASE WHEN TG_OP = 'INSERT' THEN NEW.dispatch_at END,
            'acknowledged_by', NEW.acknowledged_by, 'outcome', NEW.outcome)));
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER alerts_timeline AFTER INSERT OR UPDATE OF state ON alerts
    FOR EACH ROW EXECUTE FUNCTION bandhub_alert_timeline();

-- Per-wearer fall countdown (NULL: BANDHUB_FALL_COUNTDOWN_S).
ALTER TABLE bands ADD COLUMN fall_countdown_s real
    CHECK (fall_countdown_s >= 0 AND fall_countdown_s <= 600);

-- After every contact has been alerted one by one, all of them again at an interval
-- until somebody acknowledges or the alert is resolved.
ALTER TABLE alerts ADD COLUMN next_repeat_at timestamptz;
ALTER TABLE alerts ADD COLUMN repeats integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check
    CHECK (kind IN ('alert', 'handled', 'repeat'));

-- Quiet hours (UTC times; the window may wrap midnight): they delay non-fall alerts
-- to this contact until the window ends, and never apply to falls.
ALTER TABLE contacts ADD COLUMN quiet_start time;
ALTER TABLE contacts ADD COLUMN quiet_end time;

-- Keys the processes share (API signs one-click acknowledgement links that the
-- dispatcher puts in messages); generated once, from the server's strong random.
CREATE TABLE server_keys (name text PRIMARY KEY, value text NOT NULL);
INSERT INTO server_keys (name, value) VALUES
    ('ack_link', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));

-- Other alerts (band silent, low battery, heart rate, irregular rhythm, sedentary) carry
-- no fall sequence; this index makes "the last one of this kind" cheap for rate limits.
CREATE INDEX alerts_band_kind ON alerts (band_id, kind, created_at DESC);

-- Gateways as their retained status says (location for alerts), and which gateway
-- last brought each band's records.
CREATE TABLE gateways (
    gateway_id text PRIMARY KEY,
    state      text NOT NULL,
    location   jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE bands ADD COLUMN last_gateway_id text;

-- The latest diagnostics each gateway reported for a band (retained MQTT status).
CREATE TABLE band_status (
    band_id    text PRIMARY KEY,
    gateway_id text NOT NULL,
    status     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who a band belongs to: claimed with the code printed on its box (bandhub/claims.py).
ALTER TABLE bands ADD COLUMN owner text;
ALTER TABLE bands ADD COLUMN claimed_at timestamptz;
