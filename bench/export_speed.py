"""A year of one wearer, exported: records/s and peak memory of the JSON and the FHIR
export, next to a plain server-side-cursor read of the same rows (the baseline: what
reading alone costs).

Loads DAYS days of heart rate every 5 s (with RR intervals) and minute epochs for
one band into a throwaway database on PostgreSQL (``BANDHUB_TEST_DATABASE_URL`` or
127.0.0.1:5432), then runs each export's generator to the end,
each in a child process of its own, counting bytes and reporting the child's peak
resident memory.

    python bench/export_speed.py [--days 365]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.privacy.export_fhir import export_fhir
from api.privacy.export_json import export_json
from api.privacy.snapshot import chunks, snapshot
from bench.throwaway import throwaway_db

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def _load(url: str, days: int) -> int:
    rows = 0
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO bands (band_id, name) VALUES ('BH-0001', 'Ann')")
        with conn.cursor() as cur:
            with cur.copy("COPY hr (band_id, seq, t, bpm, rr_ms, received_at) FROM STDIN") as cp:
                for s in range(days * 17280):
                    t = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(T0 + 5 * s))
                    cp.write_row(("BH-0001", s, t, 55 + s % 40, "{950,1010,980,1005,990}", t))
                    rows += 1
            with cur.copy("COPY epochs (band_id, seq, t, steps, activity_count, enmo_mg,"
                          " hr_mean, worn, received_at) FROM STDIN") as cp:  # fmt: skip
                for s in range(days * 1440):
                    t = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(T0 + 60 * s))
                    minute = s % 1440
                    night = minute < 420
                    cp.write_row(("BH-0001", s, t, 0 if night else s % 90, 5 if night else 900,
                                  2 if night else 60, 55 if night else 75, True, t))  # fmt: skip
                    rows += 1
        conn.commit()
    return rows


async def _drain(stream) -> int:
    size = 0
    async for part in stream:
        size += len(part)
    return size


async def _baseline(url: str) -> int:
    n = 0
    async with snapshot(url) as conn:
        for table in ("hr", "epochs"):
            q = f"SELECT * FROM {table} WHERE band_id = %s ORDER BY t, seq"
            async for rows in chunks(conn, q, ("BH-0001",)):
                n += len(rows)
    return n


def _measure(label: str, mode: str, url: str, records: int) -> None:
    """One export run in a child process of its own, so its peak resident memory is
    its own (this process loaded the data and holds its own peak)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    seconds = time.perf_counter() - t0
    size, peak_kib, base_kib = (int(x) for x in out)
    print(f"{label:28} {seconds:8.1f} s {records / seconds:12,.0f} records/s"
          f" {size / 2**20:9.1f} MiB out   peak RSS {peak_kib / 1024:6.1f} MiB"
          f" ({(peak_kib - base_kib) / 1024:+.1f} MiB over an idle interpreter with"
          f" the modules loaded)")  # fmt: skip


def _child(mode: str, url: str) -> None:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = {
        "baseline": lambda: _baseline(url),
        "json": lambda: _drain(export_json(url, "BH-0001")),
        "fhir": lambda: _drain(export_fhir(url, "BH-0001")),
    }[mode]
    size = asyncio.run(run())
    print(size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, base)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.url)
        return
    with throwaway_db() as url:
        t0 = time.perf_counter()
        records = _load(url, args.days)
        print(f"loaded {records:,} records ({args.days} days of one wearer)"
              f" in {time.perf_counter() - t0:.0f} s")  # fmt: skip
        _measure("baseline: read the rows", "baseline", url, records)
        _measure("JSON export", "json", url, records)
        _measure("FHIR export", "fhir", url, records)


if __name__ == "__main__":
    main()
