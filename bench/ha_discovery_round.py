"""One round of the Home Assistant discovery service with a fleet's history.

Loads BANDS exposed bands (with health consent) x DAYS days of heart rate every 5 s
and minute epochs into a throwaway database on PostgreSQL
(``BANDHUB_TEST_DATABASE_URL`` or 127.0.0.1:5432), then times what the service does
every ``BANDHUB_HA_INTERVAL_S``: the one query (ha_discovery.snapshot) and building
every config and state payload. The baseline is the interval itself (5 s): a round
must take a small fraction of it.

    python bench/ha_discovery_round.py [--bands 200] [--days 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bandhub.settings import Settings
from bench.throwaway import throwaway_db
from ha_discovery.service import HaDiscovery
from ha_discovery.snapshot import exposed_bands

INTERVAL_S = Settings.model_fields["ha_interval_s"].default


def _load(conn: psycopg.Connection, bands: int, days: float) -> int:
    account = conn.execute(
        "INSERT INTO accounts (email, password_hash) VALUES ('bench@example.com', 'x') RETURNING id"
    ).fetchone()[0]
    conn.execute("INSERT INTO gateways (gateway_id, state) VALUES ('gw-1', 'online')")
    minutes = int(days * 1440)
    for k in range(bands):
        band = f"BH-{k + 1:04d}"
        conn.execute(
            "INSERT INTO bands (band_id, owner_id, last_seen) VALUES (%s, %s, now())",
            (band, account),
        )
        conn.execute(
            "INSERT INTO band_status (band_id, gateway_id, status) VALUES (%s, 'gw-1',"
            ' \'{"connected": true, "firmware": "1.0"}\')',
            (band,),
        )
        conn.execute("INSERT INTO ha_exposure (band_id, health) VALUES (%s, true)", (band,))
        conn.execute(
            "INSERT INTO hr SELECT %s, g, now() - make_interval(secs => g * 5), 70, '{}',"
            " true, now() FROM generate_series(1, %s) g",
            (band, minutes * 12),
        )
        conn.execute(
            "INSERT INTO epochs SELECT %s, g, now() - make_interval(mins => g), 30, 100,"
            " 20, 70, true, now() FROM generate_series(1, %s) g",
            (band, minutes),
        )
        conn.execute(
            "INSERT INTO battery SELECT %s, g, now() - make_interval(mins => g * 10), 80,"
            " now() FROM generate_series(1, %s) g",
            (band, minutes // 10),
        )
    conn.execute("ANALYZE")
    return bands * (minutes * 12 + minutes + minutes // 10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bands", type=int, default=200)
    ap.add_argument("--days", type=float, default=2.0)
    args = ap.parse_args()
    with throwaway_db() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = _load(conn, args.bands, args.days)
        settings = Settings(database_url=url, mqtt_url="mqtt://127.0.0.1:1", _env_file=None)
        service = HaDiscovery(settings)  # not started: only its round's work is timed
        with psycopg.connect(url, autocommit=True) as conn:
            times, queries = [], []
            for _ in range(8):
                t0 = time.perf_counter()
                views = exposed_bands(conn, paired_only=False)
                t1 = time.perf_counter()
                configs, states = service.wanted(views)
                times.append(time.perf_counter() - t0)
                queries.append(t1 - t0)
    median = statistics.median(times[2:])
    print(f"{args.bands} exposed bands, {rows:,} rows of history ({args.days:g} days)")
    print(f"  {len(configs)} configs, {len(states)} states")
    print(
        f"  one round: median {median * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms"
        f"  (baseline: the {INTERVAL_S:g} s interval; {median / INTERVAL_S:.1%} of it)"
    )
    print(f"  of which the query: median {statistics.median(queries[2:]) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
