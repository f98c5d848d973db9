"""Quiet hours and waking hours are the wearer's local time, in their time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest

from alerts.monitor import HealthMonitor
from bandhub.settings import Settings

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_runs():
    """NOW is read when each test starts, not when the module was collected (a test can
    start minutes after collection, e.g. on a busy pytest-xdist worker)."""
    global NOW
    NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def _band(conn, band_id: str, zone: str) -> None:
    conn.execute(
        "INSERT INTO bands (band_id, name, last_seen, time_zone) VALUES (%s, 'Ann', now(), %s)",
        (band_id, zone),
    )


def test_quiet_hours_are_the_wearers_local_hours(clean_db):
    """A contact of a wearer in Shanghai whose quiet hours cover Shanghai's present hour
    (and not the UTC one) gets a battery alert when those hours end, in Shanghai."""
    shanghai = ZoneInfo("Asia/Shanghai")
    local = NOW.astimezone(shanghai)
    start = (local - dt.timedelta(hours=1)).time()
    end = (local + dt.timedelta(hours=2)).time()
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001", "Asia/Shanghai")
        _band(conn, "BH-0002", "UTC")  # the same clock times, read as UTC: not quiet now
        for band in ("BH-0001", "BH-0002"):
            conn.execute(
                "INSERT INTO contacts (band_id, name, address, secret, quiet_start, quiet_end)"
                " VALUES (%s, 'Bo', 'http://127.0.0.1:9/hook', 's', %s, %s)",
                (band, start, end),
            )
            conn.execute(
                "INSERT INTO battery (band_id, seq, t, level, received_at)"
                " VALUES (%s, 1, now(), 5, now())",
                (band,),
            )
        conn.commit()
        HealthMonitor(Settings(database_url=clean_db, _env_file=None)).check(conn)
        due = dict(
            conn.execute(
                "SELECT c.band_id, d.next_attempt_at FROM deliveries d"
                " JOIN contacts c ON c.id = d.contact_id"
            ).fetchall()
        )
    assert abs((due["BH-0001"] - (NOW + dt.timedelta(hours=2))).total_seconds()) < 61
    assert abs((due["BH-0002"] - NOW).total_seconds()) < 120  # at once


def test_the_sedentary_reminder_follows_the_wearers_waking_hours(clean_db):
    """The same half hour without a step, at 15:00 UTC: mid-morning in New York (a
    reminder, unless the wearer turned it off), midnight in Tokyo (none)."""
    moved: list[str] = []
    settings = Settings(database_url=clean_db, sedentary_min=30, _env_file=None)
    monitor = HealthMonitor(settings, send_move=moved.append)
    last = NOW.replace(hour=15, minute=0)
    if last > NOW:
        last -= dt.timedelta(days=1)
    with psycopg.connect(clean_db) as conn:
        _band(conn, "BH-0001", "America/New_York")
        _band(conn, "BH-0002", "Asia/Tokyo")
        _band(conn, "BH-0003", "America/New_York")  # awake too, but turned the reminder off
        conn.execute("UPDATE bands SET sedentary_reminder = false WHERE band_id = 'BH-0003'")
        for band in ("BH-0001", "BH-0002", "BH-0003"):
            for m in range(30):
                t = last - dt.timedelta(minutes=29 - m)
                conn.execute(
                    "INSERT INTO epochs VALUES (%s, %s, %s, 0, 10, 5, 70, true, now())",
                    (band, m, t),
                )
        conn.commit()
        monitor.check(conn)
    assert moved == ["BH-0001"]
