"""Caregiver alerts other than falls: each rule fires on the data that should fire it,
not on data that should not, once per rate-limit window, and respects quiet hours."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import numpy as np
import psycopg
import pytest

from alerts.dispatcher import Dispatcher
from alerts.monitor import HealthMonitor, MonitorService
from bandhub.contracts.messages import Topics
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.principals.broker_acl import MONITOR
from bandhub.settings import Settings
from stack.webhook_receiver import WebhookReceiver
from tests.e2e.helpers import eventually

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_runs():
    """NOW is read when each test starts, not when the module was collected (a test can
    start minutes after collection, e.g. on a busy pytest-xdist worker)."""
    global NOW
    NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def _band(conn, band_id: str = "BH-0001", last_seen: dt.datetime | None = None) -> None:
    conn.execute(
        "INSERT INTO bands (band_id, name, last_seen) VALUES (%s, 'Ann', %s)",
        (band_id, last_seen or NOW),
    )


def _epochs(conn, hr: list[int], steps: list[int], band_id: str = "BH-0001", hour: int = 14):
    start = NOW.replace(hour=hour) - dt.timedelta(minutes=len(hr))
    for k, (h, s) in enumerate(zip(hr, steps, strict=True)):
        conn.execute(
            "INSERT INTO epochs (band_id, seq, t, steps, activity_count, enmo_mg, hr_mean, worn,"
            " received_at) VALUES (%s, %s, %s, %s, 0, 0, %s, true, now())",
            (band_id, k, start + dt.timedelta(minutes=k), s, h),
        )


def _alerts(conn) -> list[tuple[str, str]]:
    return conn.execute("SELECT band_id, kind FROM alerts ORDER BY id").fetchall()


def _settings(url: str, **kw) -> Settings:
    return Settings(database_url=url, _env_file=None, **kw)


def test_silent_band_and_low_battery_alert_once_per_window(clean_db):
    monitor = HealthMonitor(_settings(clean_db, band_silent_h=4))
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001", last_seen=NOW - dt.timedelta(hours=5))
        _band(conn, "BH-0002", last_seen=NOW - dt.timedelta(hours=1))
        conn.execute(
            "INSERT INTO battery (band_id, seq, t, level, received_at) VALUES"
            " ('BH-0002', 1, now() - interval '2 min', 40, now()),"
            " ('BH-0002', 2, now(), 9, now())"
        )
        conn.commit()
        fired = monitor.check(conn)
        assert sorted((f.band_id, f.kind) for f in fired) == [
            ("BH-0001", "band_silent"),
            ("BH-0002", "low_battery"),
        ]
        assert monitor.check(conn) == []  # rate-limited: nobody is told twice
        assert len(_alerts(conn)) == 2


def test_heart_rate_high_only_when_sustained_and_inactive(clean_db):
    monitor = HealthMonitor(_settings(clean_db, hr_high_bpm=120, hr_sustained_min=10))
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001")
        _band(conn, "BH-0002")
        _band(conn, "BH-0003")
        _epochs(conn, [130] * 10, [0] * 10, "BH-0001")  # resting at 130: alert
        _epochs(conn, [130] * 10, [90] * 10, "BH-0002")  # running at 130: fine
        _epochs(conn, [70] * 5 + [130] * 5, [0] * 10, "BH-0003")  # only 5 minutes: not yet
        conn.commit()
        fired = monitor.check(conn)
        assert [(f.band_id, f.kind) for f in fired] == [("BH-0001", "hr_high")]
        assert fired[0].details["min_bpm"] == 130


def test_irregular_rhythm_needs_persistent_irregularity(clean_db):
    rng = np.random.default_rng(0)
    monitor = HealthMonitor(_settings(clean_db, irregular_rhythm_min=30))
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001")
        _band(conn, "BH-0002")
        for band_id, spread in (("BH-0001", 0.25), ("BH-0002", 0.02)):
            for k in range(20 * 12):  # 20 minutes of 5-s records with their RR intervals
                rr = 800 * (1 + spread * rng.uniform(-1, 1, size=6))
                conn.execute(
                    "INSERT INTO hr (band_id, seq, t, bpm, rr_ms, received_at)"
                    " VALUES (%s, %s, %s, 75, %s, now())",
                    (band_id, k, NOW - dt.timedelta(seconds=5 * (240 - k)), rr.tolist()),
                )
        conn.commit()
        fired = monitor.check(conn)
    assert [(f.band_id, f.kind) for f in fired] == [("BH-0001", "irregular_rhythm")]


def test_sedentary_reminds_the_band_during_waking_hours_only(clean_db):
    moved: list[str] = []
    monitor = HealthMonitor(_settings(clean_db, sedentary_min=30), send_move=moved.append)
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001")
        _band(conn, "BH-0002")
        _epochs(conn, [70] * 30, [0] * 30, "BH-0001", hour=15)
        _epochs(conn, [55] * 30, [0] * 30, "BH-0002", hour=3)  # asleep at night
        conn.commit()
        monitor.check(conn)
        assert moved == ["BH-0001"]
        assert monitor.check(conn) == [] and moved == ["BH-0001"]
        deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    assert deliveries == 0  # a reminder for the wearer, not an alert for the contacts


async def test_monitor_sends_the_move_vibration_over_mqtt(settings, broker):
    got: list[dict] = []
    client = mqtt_client(broker.url, "test-cmd")
    client.on_message = lambda _c, _u, m: got.append(json.loads(m.payload))
    host, port = broker_address(settings.mqtt_url)
    client.connect(host, port)
    client.subscribe(Topics(settings.mqtt_topic_prefix).command("BH-0001"), qos=1)
    client.loop_start()
    # with the monitor's own login, whose role may publish commands
    service = MonitorService(settings.model_copy(update={"mqtt_url": broker.url_for(MONITOR)}))
    service.start()
    try:
        await eventually(lambda: service.connected.is_set(), 10, "monitor connected")
        await asyncio.sleep(0.3)
        service.send_move("BH-0001")
        await eventually(lambda: got, 10, "the vibrate command")
    finally:
        service.stop()
        client.loop_stop()
        client.disconnect()
    assert got[0]["cmd"] == "vibrate" and got[0]["args"]["reason"] == "move"


@pytest.mark.parametrize("kind", ["low_battery", "fall"])
async def test_quiet_hours_delay_other_alerts_but_never_falls(clean_db, kind):
    receiver = WebhookReceiver(secret=SECRET)
    await receiver.start()
    start = (NOW - dt.timedelta(hours=1)).time()
    end = (NOW + dt.timedelta(hours=2)).time()
    with psycopg.connect(clean_db) as conn:
        _band(conn)
        conn.execute(
            "INSERT INTO contacts (band_id, name, address, secret, quiet_start, quiet_end)"
            " VALUES ('BH-0001', 'Bo', %s, %s, %s, %s)",
            (receiver.url, SECRET, start, end),
        )
        if kind == "fall":
            from tests.alerts.test_escalation import _fall

            conn.commit()
            _fall(clean_db)
        else:
            conn.execute(
                "INSERT INTO battery (band_id, seq, t, level, received_at)"
                " VALUES ('BH-0001', 1, now(), 5, now())"
            )
            conn.commit()
            HealthMonitor(_settings(clean_db)).check(conn)
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(_settings(clean_db)).run(stop))
    try:
        if kind == "fall":
            await eventually(lambda: receiver.deliveries, 10, "the fall alert")
        else:
            await asyncio.sleep(2.0)
            assert receiver.deliveries == []
            with psycopg.connect(clean_db) as conn:
                due = conn.execute("SELECT next_attempt_at FROM deliveries").fetchone()[0]
            assert abs((due - (NOW + dt.timedelta(hours=2))).total_seconds()) < 61
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await receiver.stop()
