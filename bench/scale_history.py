"""A fleet's history for the scale benchmark, generated inside PostgreSQL.

Heart rate every 5 s (RR intervals on every other record) and minute epochs with a
night of sleep, for every band, inserted one day at a time in the interleaved order
live ingest writes them (each instant, every band), with the record counts and the
rollups that ingest would have kept while writing them.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from ingest.rollups import refresh_rollups

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

_HR = """
INSERT INTO hr (band_id, seq, t, bpm, rr_ms, contact, received_at)
SELECT b.band_id, k, %(t0)s + k * interval '5 s', x.bpm,
       CASE WHEN k %% 2 = 0 THEN ARRAY[60000.0 / x.bpm, 60000.0 / x.bpm + 12]::real[]
            ELSE '{}' END, true, %(t0)s + k * interval '5 s'
FROM generate_series(%(k0)s, %(k1)s - 1) AS k
CROSS JOIN LATERAL (SELECT band_id, hashtext(band_id) AS h FROM bands) AS b
CROSS JOIN LATERAL (SELECT (CASE WHEN (k / 720 + 1) %% 24 < 8 THEN 55 ELSE 72 END
                          + 15 * sin((k + b.h %% 1000) / 300.0)
                          + 6 * random())::smallint AS bpm) AS x
"""

_EPOCHS = """
INSERT INTO epochs (band_id, seq, t, steps, activity_count, enmo_mg, hr_mean, worn,
                    received_at)
SELECT b.band_id, m, %(t0)s + m * interval '1 minute',
       CASE WHEN night THEN 0 ELSE (random() * 90)::int END,
       CASE WHEN night THEN (random() * 20)::int ELSE 200 + (random() * 3000)::int END,
       CASE WHEN night THEN 1 + (random() * 3)::int ELSE 20 + (random() * 180)::int END,
       CASE WHEN night THEN 55 ELSE 72 END + (random() * 10)::int, true,
       %(t0)s + m * interval '1 minute'
FROM generate_series(%(m0)s, %(m1)s - 1) AS m
CROSS JOIN LATERAL (SELECT (m / 60 + 1) %% 24 < 8 AS night) AS n
CROSS JOIN LATERAL (SELECT band_id FROM bands) AS b
"""


def band_ids(bands: int) -> list[str]:
    return [f"BH-{k + 1:04d}" for k in range(bands)]


def load(url: str, bands: int, days: int, log=print) -> int:
    """Insert the history; returns the heart-rate rows."""
    ids = band_ids(bands)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO bands (band_id) SELECT unnest(%s::text[])", (ids,))
        for day in range(days):
            k0, m0 = day * 17280, day * 1440
            conn.execute(_HR, {"t0": T0, "k0": k0, "k1": k0 + 17280})
            conn.execute(_EPOCHS, {"t0": T0, "m0": m0, "m1": m0 + 1440})
            log(f"  day {day + 1}/{days} loaded")
        conn.execute(
            "UPDATE bands b SET records = (SELECT count(*) FROM hr WHERE hr.band_id = b.band_id)"
            " + (SELECT count(*) FROM epochs e WHERE e.band_id = b.band_id)"
        )
        for band in ids:
            refresh_rollups(conn, band, T0, T0 + dt.timedelta(days=days))
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT count(*) FROM hr").fetchone()[0]
