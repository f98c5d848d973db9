-- Every new alert and every change of an alert's state is announced on
-- 'bandhub_alert_events' (JSON), which the API streams to the companion app.
CREATE FUNCTION bandhub_alert_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bandhub_alert_events', json_build_object(
        'id', NEW.id, 'band_id', NEW.band_id, 'kind', NEW.kind, 'state', NEW.state,
        'event_t', NEW.event_t, 'confidence', NEW.confidence)::text);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE OF state ON alerts
    FOR EACH ROW EXECUTE FUNCTION bandhub_alert_event();
