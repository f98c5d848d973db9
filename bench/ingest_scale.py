"""Ingest and API at scale: one table, rollups and workers next to their baselines.

API part: loads BANDS x DAYS of history (bench/scale_history.py: heart rate every
5 s, minute epochs, interleaved as live ingest writes them) into a throwaway database,
starts the real API and times each request RUNS times over HTTP (more than five, so
psycopg's generic plans are covered): ``GET /bands``, the daily summary (first read
of a day, and again), trends over a month and a year, the hr series over 7 and 31
days at 1 h, signed in as the bands' owner; the wearers live in --time-zone. "Before" is the same
API with the rollups taken away (it then reads the raw rows, as before migration
011). Storage is bytes per heart-rate sample, indexes included.

Ingest part: RECORDS heart-rate records in backlog pages of ~370 (and a live shape,
one record per message), queued on the broker while the workers are away, then
timed from the workers' start to the last row stored: ``bandhub ingest`` with one
and with two workers (processes), a naive consumer (one INSERT per record, a commit
per message), and psycopg's COPY of the same rows with hr's keys.

    python bench/ingest_scale.py [--bands 50] [--days 30] [--records 200000] [--part all]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ingest_runs, scale_history
from bench.throwaway import throwaway_db
from tests.people import add_account, sign_in

OWNER = "fleet-owner@example.com"  # owns every band of the history (the API's reader)


def _ms(took: list[float]) -> tuple[float, float]:
    return statistics.median(took), statistics.quantiles(took, n=20, method="inclusive")[-1]


async def _timed(http: httpx.AsyncClient, requests: list[tuple[str, dict]]) -> list[float]:
    took = []
    for path, params in requests:
        start = time.perf_counter()
        r = await http.get(path, params=params)
        took.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
    return took


def _requests(bands: list[str], days: int, runs: int) -> dict[str, list[tuple[str, dict]]]:
    """RUNS requests per kind, over different bands and days."""
    t0 = scale_history.T0
    out: dict[str, list[tuple[str, dict]]] = {"GET /bands": [("/bands", {})] * runs}
    out["summary, first read of a day"] = out["summary, again"] = [
        (f"/bands/{bands[i % len(bands)]}/summary",
         {"date": str((t0 + dt.timedelta(days=1 + i % max(days - 1, 1))).date())})
        for i in range(runs)
    ]  # fmt: skip
    for period in ("month", "year"):  # the last day loaded, and days from before it
        out[f"trends, a {period}"] = [
            (f"/bands/{bands[i % len(bands)]}/trends",
             {"period": period, "end": str((t0 + dt.timedelta(days=days - 1)).date())})
            for i in range(runs)
        ]  # fmt: skip
    for span in (7, 31):
        out[f"hr {span} days at 1 h"] = [
            (f"/bands/{bands[i % len(bands)]}/hr",
             {"start": (t0 + dt.timedelta(hours=i)).isoformat(),
              "end": (t0 + dt.timedelta(days=span, hours=i)).isoformat(), "resolution": "1h"})
            for i in range(runs)
        ]  # fmt: skip
    return out


async def _api_runs(url: str, bands: list[str], days: int, runs: int) -> dict[str, list[float]]:
    from api.server import serve_api
    from bandhub.settings import Settings
    from stack.ports import free_port

    settings = Settings(
        database_url=url, api_port=free_port(), api_expensive_per_min=1_000_000, _env_file=None
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve_api(settings, stop))
    out: dict[str, list[float]] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}", timeout=120
        ) as http:
            for _ in range(200):
                try:
                    await http.get("/openapi.json")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            tokens = await sign_in(str(http.base_url), OWNER)
            http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
            for kind, requests in _requests(bands, days, runs).items():
                out[kind] = await _timed(http, requests)
    finally:
        stop.set()
        await task
    return out


def _storage(url: str) -> tuple[float, float]:
    """Bytes per heart-rate sample: hr (rows) and hr_blocks (compact history), indexes
    and TOAST included; and the rollups on top."""
    with psycopg.connect(url) as conn:
        n, raw, rolled = conn.execute(
            "SELECT (SELECT count(*) FROM hr_all),"
            " pg_total_relation_size('hr') + pg_total_relation_size('hr_blocks'),"
            " pg_total_relation_size('hr_1m') + pg_total_relation_size('hr_1h')"
            " + pg_total_relation_size('band_days')"
        ).fetchone()
    return raw / n, rolled / n


def _compact(url: str) -> float:
    """What the monitor's compaction job does to history (every hour that ended 2 h
    ago into hr_blocks); then hr rewritten to its steady-state size (the hours not yet
    compacted: none here). Returns seconds taken by the compaction."""
    from bandhub.db import compaction
    from bandhub.settings import Settings

    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        compaction.compact(conn, Settings(database_url=url, _env_file=None))
        took = time.perf_counter() - start
        conn.execute("VACUUM FULL hr")
        conn.execute("VACUUM ANALYZE hr_blocks")
    return took


@contextmanager
def _without_rollups(url: str) -> Iterator[None]:
    """The API as before migration 011: no day is maintained, it reads raw rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE band_days RENAME TO band_days_kept")
        conn.execute("CREATE TABLE band_days (LIKE band_days_kept INCLUDING ALL)")
        conn.execute("TRUNCATE day_summaries")
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE band_days")
            conn.execute("ALTER TABLE band_days_kept RENAME TO band_days")


def api_part(args) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with throwaway_db(args.keep) as url:
        start = time.perf_counter()
        n = scale_history.load(url, args.bands, args.days, log=lambda m: print(m, flush=True))
        print(f"{n:,} hr rows ({args.bands} bands x {args.days} days) loaded with their"
              f" rollups in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
        bands = scale_history.band_ids(args.bands)
        with psycopg.connect(url, autocommit=True) as conn:  # local days: re-keyed (022)
            start = time.perf_counter()
            conn.execute("UPDATE bands SET time_zone = %s", (args.time_zone,))
            print(f"days re-keyed to {args.time_zone} in {time.perf_counter() - start:.1f} s")
        with psycopg.connect(url) as conn:
            owner = add_account(conn, OWNER)
            conn.execute("UPDATE bands SET owner_id = %s, claimed_at = now()", (owner,))
        raw_before, _rolled = _storage(url)
        with _without_rollups(url):
            before = asyncio.run(_api_runs(url, bands, args.days, args.runs))
        took = _compact(url)
        print(f"history compacted into hourly blocks in {took:.0f} s", flush=True)
        after = asyncio.run(_api_runs(url, bands, args.days, args.runs))
        for kind in after:
            b50, b95 = _ms(before[kind])
            a50, a95 = _ms(after[kind])
            label = f"{kind}, p50 / p95 ms"
            rows.append((label, f"{b50:.1f} / {b95:.1f}", f"{a50:.1f} / {a95:.1f}"))
        raw, rolled = _storage(url)
        rows.append(
            ("storage, B per hr sample, indexes included", f"{raw_before:.0f}", f"{raw:.1f}")
        )
        rows.append(("rollups on top, B per hr sample", "-", f"{rolled:.1f}"))
    return rows


def ingest_part(args) -> list[tuple[str, str, str]]:
    return ingest_runs.run(args, throwaway_db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--records", type=int, default=200_000, help="for the ingest runs")
    parser.add_argument("--naive-records", type=int, default=20_000)
    parser.add_argument(
        "--baseline-src",
        default="",
        help="a checkout whose `bandhub ingest` is the 'before' (e.g. the main branch)",
    )
    parser.add_argument("--part", choices=("api", "ingest", "all"), default="all")
    parser.add_argument("--time-zone", default="Asia/Kolkata", help="the wearers' zone")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    rows = []
    if args.part in ("api", "all"):
        rows += api_part(args)
    if args.part in ("ingest", "all"):
        rows += ingest_part(args)
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{'':<{width}}{'before / baseline':>36}{'bandhub (this branch)':>36}")
    for label, before, after in rows:
        print(f"{label:<{width}}{before:>36}{after:>36}")


if __name__ == "__main__":
    main()
