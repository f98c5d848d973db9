"""The summary refresher (api/summary_refresh.py) keeps the stored daily summaries equal
to a recomputation as live data and a late week-long backlog arrive through ingest,
at most once per debounce interval per day; a read while a summary is stale still
answers the fresh one."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.summary import computed_summary
from api.summary_refresh import SummaryRefresher, catch_up, refresh_round
from bandhub.contracts.messages import Topics
from ingest.rollups import refresh_rollups
from tests.e2e.helpers import eventually
from tests.ingest.test_rollups import T0, _epochs, _hr, publish_week_backlog

BANDS = ("BH-0001", "BH-0002")
_DAY2_STORED = "SELECT summary FROM day_summaries WHERE band_id = 'BH-0001' AND day = '2026-11-25'"


def _scalar(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


async def _conn(url: str) -> AsyncConnection:
    return await AsyncConnection.connect(url, row_factory=dict_row)


async def _assert_all_current(url: str) -> int:
    """Every kept day's stored summary equals a recomputation now, and no day is marked."""
    async with await _conn(url) as conn:
        days = await (
            await conn.execute("SELECT band_id, day FROM band_days ORDER BY 1, 2")
        ).fetchall()
        stored = {
            (r["band_id"], r["day"]): r["summary"]
            for r in await (await conn.execute("SELECT * FROM day_summaries")).fetchall()
        }
        for d in days:
            key = (d["band_id"], d["day"])
            assert stored.get(key) == await computed_summary(conn, *key), key
        assert _scalar(url, "SELECT count(*) FROM band_days WHERE dirty") == 0
        return len(days)


async def test_refresher_follows_live_data_and_a_late_backlog(settings, ingest, publisher, owner):
    url, topics, sent = settings.database_url, Topics(), 0
    settings.api_expensive_per_min = 100_000
    # live: two days of two bands, a message of 30 minutes of heart rate and epochs each
    for m in range(96):
        for band in BANDS:
            seqs = range(m * 30, m * 30 + 30)
            publisher(topics.records(band, "hr"), _hr(band, seqs, T0, 60.0))
            publisher(topics.records(band, "epoch"), _epochs(band, seqs, T0))
            sent += 2
    await eventually(lambda: ingest.stats.messages == sent, 60, "live messages stored")
    assert _scalar(url, "SELECT count(*) FROM band_days WHERE dirty") > 0

    # the refresher's thread catches up on its own
    refresher = SummaryRefresher(
        settings.model_copy(update={"summary_refresh_s": 0.2, "summary_debounce_s": 300})
    )
    refresher.start()
    try:
        await eventually(
            lambda: _scalar(url, "SELECT count(*) FROM band_days WHERE dirty") == 0,
            60,
            "the refresher to catch up",
        )
    finally:
        refresher.stop()
    kept = await _assert_all_current(url)
    assert _scalar(url, "SELECT count(*) FROM day_summaries") == kept

    # a read answers the stored summary: nothing computed, nothing written
    owner.own(url, *BANDS)
    day2 = dt.date(2026, 11, 25)
    before = _scalar(url, "SELECT max(computed_at) FROM day_summaries")
    r = await owner.client.get("/bands/BH-0001/summary", params={"date": str(day2)})
    assert r.status_code == 200
    assert _scalar(url, "SELECT max(computed_at) FROM day_summaries") == before

    # more live data for day 2, a message at a time: within the debounce interval the
    # refresher leaves it (the mark stays), however many messages come
    async with await _conn(url) as conn:
        for m in range(5):
            # new seqs at the same minutes of day 2 (10:00 on): more epochs there
            seqs = range(200_000 + 2040 + m * 10, 200_000 + 2050 + m * 10)
            publisher(topics.records("BH-0001", "epoch"), _epochs("BH-0001", seqs, T0))
            sent += 1
            await eventually(lambda n=sent: ingest.stats.messages == n, 30, "a message stored")
            done = await refresh_round(conn, 300.0)
            assert done.computed == 0 and done.waiting >= 1
        assert _scalar(url, "SELECT count(*) FROM band_days WHERE dirty") >= 1
        fresh = await computed_summary(conn, "BH-0001", day2)
        stale = _scalar(url, _DAY2_STORED)
        assert stale["steps"] != fresh["steps"]
        # a read while it is stale answers the fresh summary (and stores it for later)
        r = await owner.client.get("/bands/BH-0001/summary", params={"date": str(day2)})
        assert r.json()["steps"] == fresh["steps"]
        assert _scalar(url, _DAY2_STORED) == fresh
        # past the debounce interval, the refresher recomputes what is still stale
        done = await catch_up(conn, 0.0)
        assert done.failed == 0
    await _assert_all_current(url)
    again = await owner.client.get("/bands/BH-0001/summary", params={"date": str(day2)})
    assert again.json() == r.json()

    sent += publish_week_backlog(publisher, topics, "BH-0001")  # BH-0001 was away
    await eventually(lambda: ingest.stats.messages == sent, 60, "the backlog stored")
    backlog = [dt.date(2026, 11, 17) + dt.timedelta(days=k) for k in range(7)]
    with psycopg.connect(url) as conn:
        marked = conn.execute(
            "SELECT day FROM band_days WHERE band_id = 'BH-0001' AND dirty ORDER BY 1"
        ).fetchall()
    assert [d for (d,) in marked] == backlog
    async with await _conn(url) as conn:
        # days never summarised are due at once; the first live day, whose night now
        # has an evening before it, was recomputed lately: it waits out the debounce
        done = await refresh_round(conn, 300.0)
        assert (done.computed, done.waiting, done.failed) == (7, 1, 0)
        done = await refresh_round(conn, 0.0)
        assert (done.computed, done.waiting, done.failed) == (1, 0, 0)
    assert await _assert_all_current(url) == kept + 7


async def test_a_summary_computed_during_an_erasure_is_not_stored(clean_db):
    """The refresher computes while the band is being erased (the erasure has deleted
    the band's days, not yet committed): the summary waits for the erasure and is not
    stored after it, so no health data of an erased band is left behind."""
    url, band = clean_db, "BH-0009"
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES (%s)", (band,))
        conn.execute(
            "INSERT INTO epochs (band_id, seq, t, steps, activity_count, enmo_mg, hr_mean, worn,"
            " received_at) SELECT %s, m, %s + m * interval '1 minute', m %% 90, 500, 40, 70,"
            " true, now() FROM generate_series(0, 1439) m",
            (band, dt.datetime(2026, 11, 24, tzinfo=dt.UTC)),
        )
        refresh_rollups(conn, band, dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
                        dt.datetime(2026, 11, 25, tzinfo=dt.UTC))  # fmt: skip
    erasure = psycopg.connect(url)
    try:  # what erase_band does first, in its one transaction
        for table in ("band_days", "day_summaries", "epochs"):
            erasure.execute(f"DELETE FROM {table} WHERE band_id = %s", (band,))
        async with await _conn(url) as conn:
            pid = (await (await conn.execute("SELECT pg_backend_pid() AS p")).fetchone())["p"]
            task = asyncio.create_task(refresh_round(conn, 0.0))
            await eventually(
                lambda: (
                    _scalar(url, f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {pid}")
                    == "Lock"
                ),
                30,
                "the summary to wait for the erasure",
            )
            erasure.commit()
            await task
    finally:
        erasure.close()
    assert _scalar(url, "SELECT count(*) FROM day_summaries") == 0
