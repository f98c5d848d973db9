"""`GET /bands` with a fleet's history: the kept record counts next to counting rows.

Loads BANDS bands x DAYS days of heart rate every 5 s and minute epochs into a
throwaway database on PostgreSQL (``BANDHUB_TEST_DATABASE_URL`` or
127.0.0.1:5432), interleaved as live ingest writes them, then times the API's
query before migration 007 (counting each band's rows in five tables) and after it
(the ``bands.records`` that ingest keeps), each run more than five times so that
psycopg's prepared generic plan is covered too. Checks both give the same counts.

    python bench/bands_list.py [--bands 50] [--days 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throwaway import throwaway_db

COUNTED = (
    "SELECT b.band_id, (SELECT count(*) FROM hr WHERE hr.band_id = b.band_id)"
    " + (SELECT count(*) FROM epochs e WHERE e.band_id = b.band_id)"
    " + (SELECT count(*) FROM falls f WHERE f.band_id = b.band_id)"
    " + (SELECT count(*) FROM buttons x WHERE x.band_id = b.band_id)"
    " + (SELECT count(*) FROM battery y WHERE y.band_id = b.band_id) AS records"
    " FROM bands b ORDER BY b.band_id"
)
KEPT = "SELECT band_id, records FROM bands ORDER BY band_id"
T0 = 1_790_000_000


def _load(conn: psycopg.Connection, bands: int, days: float) -> int:
    ids = [f"BH-{k + 1:04d}" for k in range(bands)]
    conn.execute("INSERT INTO bands (band_id) SELECT unnest(%s::text[])", (ids,))
    rows = 0
    with conn.cursor() as cur:
        with cur.copy("COPY hr (band_id, seq, t, bpm, rr_ms, received_at) FROM STDIN") as copy:
            for s in range(int(days * 86400 / 5)):  # interleaved: every band's sample s
                t = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(T0 + 5 * s))
                for band in ids:
                    copy.write_row((band, s, t, 60 + s % 40, "{1000}", t))
                    rows += 1
        with cur.copy("COPY epochs (band_id, seq, t, steps, activity_count, enmo_mg, worn,"
                      " received_at) FROM STDIN") as copy:  # fmt: skip
            for s in range(int(days * 1440)):
                t = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(T0 + 60 * s))
                for band in ids:
                    copy.write_row((band, s, t, s % 7, 10, 5, True, t))
                    rows += 1
    conn.execute(
        "UPDATE bands b SET records = (SELECT count(*) FROM hr WHERE hr.band_id = b.band_id)"
        " + (SELECT count(*) FROM epochs e WHERE e.band_id = b.band_id)"
    )  # what ingest would have kept while writing them
    conn.commit()
    conn.execute("VACUUM ANALYZE")
    return rows


def _time(conn: psycopg.Connection, query: str, runs: int) -> tuple[list[float], list]:
    took, result = [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = conn.execute(query, prepare=True).fetchall()
        took.append((time.perf_counter() - start) * 1000)
    return took, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=50)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    with throwaway_db() as url, psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        rows = _load(conn, args.bands, args.days)
        print(f"{rows:,} rows for {args.bands} bands x {args.days:g} days"
              f" loaded in {time.perf_counter() - start:.0f} s")  # fmt: skip
        counted, by_counting = _time(conn, COUNTED, args.runs)
        kept, by_keeping = _time(conn, KEPT, args.runs)
    assert by_counting == by_keeping, "kept counts differ from counting rows"
    print(f"{'GET /bands query':<36}{'p50 ms':>10}{'p95 ms':>10}")
    for label, took in (("counting rows (before 007)", counted), ("kept counts", kept)):
        p95 = statistics.quantiles(took, n=20)[-1]
        print(f"{label:<36}{statistics.median(took):>10.2f}{p95:>10.2f}")


if __name__ == "__main__":
    main()
