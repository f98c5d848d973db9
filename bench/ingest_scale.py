"""Ingest and API at scale: one table, rollups and workers next to their baselines.

API part: loads BANDS x DAYS of history (bench/scale_history.py: heart rate every
5 s, minute epochs, interleaved as live ingest writes them) into a throwaway database,
starts the real API and times each request RUNS times over HTTP (more than five, so
psycopg's generic plans are covered): ``GET /bands``, the daily summary (first read
of a day, and again), trends over a month and a year, the hr series over 7 and 31
days at 1 h, signed in as the bands' owner; the wearers live in --time-zone. "Before" is the same
API with the rollups taken away (it then reads the raw rows, as before migration
011). Then every stored summary is dropped, the summary refresher catches up (timed)
and the first reads of the same days are timed again. Storage is bytes per
heart-rate sample, indexes included.

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


async def _api_runs(
    url: str,
    bands: list[str],
    days: int,
    runs: int,
    only: tuple[str, ...] = (),
    warm_up: list[tuple[str, dict]] = (),
) -> dict[str, list[float]]:
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
            await _timed(http, list(warm_up))  # not counted
            for kind, requests in _requests(bands, days, runs).items():
                if not only or kind in only:
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


def _refresher_catch_up(url: str) -> tuple[int, float, float]:
    """Every day's stored summary dropped and its day marked, then what the summary
    refresher does once the data has arrived (api/summary_refresh.py): rounds until
    nothing is due. Returns the summaries computed, the seconds taken and the CPU
    seconds of this process (the refresher's share of its worker's CPU)."""
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    from api.summary_refresh import catch_up

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE day_summaries")
        conn.execute("UPDATE band_days SET dirty = true")

    async def run() -> int:
        async with await AsyncConnection.connect(url, row_factory=dict_row) as conn:
            return (await catch_up(conn)).computed

    start, cpu = time.perf_counter(), time.process_time()
    n = asyncio.run(run())
    return n, time.perf_counter() - start, time.process_time() - cpu


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
        n, took, cpu = _refresher_catch_up(url)
        print(f"summary refresher: {n} days computed in {took:.1f} s ({cpu:.1f} s CPU)")
        first = "summary, first read of a day"  # the same requests as the first reads above
        # a server as warm as the one that read them again: the same statements run (and
        # prepared by psycopg after five) on the summaries of a day the runs never read
        day0 = [(f"/bands/{b}/summary", {"date": str(scale_history.T0.date())}) for b in bands]
        warm = asyncio.run(
            _api_runs(url, bands, args.days, args.runs, only=(first,), warm_up=day0 * 2)
        )
        for kind in after:
            b50, b95 = _ms(before[kind])
            a50, a95 = _ms(after[kind])
            label = f"{kind}, p50 / p95 ms"
            rows.append((label, f"{b50:.1f} / {b95:.1f}", f"{a50:.1f} / {a95:.1f}"))
            if kind == first:  # the same requests, the refresher having caught up
                w50, w95 = _ms(warm[first])
                label = "summary, first read after the refresher caught up, p50 / p95 ms"
                rows.append(
                    (label, f"{a50:.1f} / {a95:.1f} (no refresher)", f"{w50:.1f} / {w95:.1f}")
                )
        per_day = f"{took * 1000 / max(n, 1):.0f} / {cpu * 1000 / max(n, 1):.0f}"
        rows.append(("summary refresher, ms per day computed: wall / its CPU", "-", per_day))
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
