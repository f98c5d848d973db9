"""A wearer's day of records written straight to the database, for the summary's tests
and the app's: a night asleep (00:00-06:00, RR intervals for HRV) and a walk."""

from __future__ import annotations

import datetime as dt

import psycopg

from ingest.rollups import refresh_rollups

DAY = dt.date(2026, 11, 23)
MIDNIGHT = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
WALK_STEPS_PER_MIN = 105  # brisk: active minutes
WALK_MINUTES = 240  # 06:00-10:00


def seed_day(
    url: str,
    band_id: str = "BH-0001",
    name: str | None = "Grandma Li",
    walk_minutes: int = WALK_MINUTES,
) -> None:
    """A night and a walk of minute epochs and heart rate for ``band_id`` (created
    unclaimed when missing)."""
    epochs, hr = [], []
    for minute in range(360 + walk_minutes):
        t = MIDNIGHT + dt.timedelta(minutes=minute)
        if minute < 360:  # steps, activity count, ENMO (mg), heart rate, RR (ms)
            steps, count, enmo, bpm, rr = 0, 5, 2, 55, [1000.0, 1060.0] * 3
        else:
            steps, count, enmo = WALK_STEPS_PER_MIN, 3000, 180
            bpm, rr = 95 + minute % 7, [600.0, 700.0] * 5
        epochs.append((band_id, minute, t, steps, count, enmo, bpm))
        hr.append((band_id, minute, t, bpm, rr))
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO bands (band_id, name) VALUES (%s, COALESCE(%s, %s))"
            " ON CONFLICT (band_id) DO NOTHING",
            (band_id, name, band_id),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO epochs VALUES (%s, %s, %s, %s, %s, %s, %s, true, now())", epochs
            )
            cur.executemany("INSERT INTO hr VALUES (%s, %s, %s, %s, %s, true, now())", hr)
    with psycopg.connect(url) as conn:  # the day's rollups, as ingest keeps them
        refresh_rollups(conn, band_id, MIDNIGHT, MIDNIGHT + dt.timedelta(days=1))
