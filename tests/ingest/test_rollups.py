"""Rollups kept by ingest equal a recomputation from the raw rows (per the wearer's
local day, also in a zone 5:45 ahead of UTC) — after live data
(re-sends included) and after a band's late week-long backlog — and the API answers
the same from rollups as from the raw rows."""

from __future__ import annotations

import datetime as dt

import psycopg

from bandhub.contracts.messages import Topics
from ingest.rollups import refresh_rollups
from tests.e2e.helpers import eventually

T0 = 1_795_478_400  # 2026-11-24 00:00 UTC
BANDS = ("BH-0001", "BH-0002")
_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00+00'"
RECOMPUTED = {
    "hr_1m": f"SELECT band_id, date_bin('1 minute', t, {_ORIGIN}) AS t, count(*), sum(bpm),"
    " min(bpm), max(bpm) FROM hr GROUP BY 1, 2",
    "hr_1h": f"SELECT band_id, date_bin('1 hour', t, {_ORIGIN}) AS t, count(*), sum(bpm),"
    " min(bpm), max(bpm) FROM hr GROUP BY 1, 2",
    "band_days": "SELECT band_id, day, sum(hn)::int, sum(hs), min(lo), max(hi), sum(en)::int,"
    " sum(st), sum(w)::int FROM (SELECT band_id, band_local_day(band_id, t) AS day, 1 AS hn,"
    " bpm AS hs, bpm AS lo, bpm AS hi, 0 AS en, 0 AS st, 0 AS w FROM hr UNION ALL"
    " SELECT band_id, band_local_day(band_id, t), 0, 0, NULL, NULL, 1, steps, worn::int"
    " FROM epochs) x GROUP BY 1, 2",
}
KEPT = {
    "hr_1m": "SELECT band_id, t, n, bpm_sum, bpm_min, bpm_max FROM hr_1m",
    "hr_1h": "SELECT band_id, t, n, bpm_sum, bpm_min, bpm_max FROM hr_1h",
    "band_days": "SELECT band_id, day, hr_n, hr_sum, hr_min, hr_max, epochs, steps, worn_min"
    " FROM band_days",
}


def _hr(band: str, seqs, t0: float, every_s: float) -> dict:
    records = [
        {"seq": s, "t": t0 + every_s * (s % 100_000), "bpm": 45 + (s * 7) % 100,
         "rr_ms": [800.0 + (s % 9) * 20, 810.0] if s % 3 else []}
        for s in seqs
    ]  # fmt: skip
    return {"v": 1, "band_id": band, "gateway_id": "gw-test", "stream": "hr",
            "received_at": T0 + 86400 * 3, "records": records}  # fmt: skip


def _epochs(band: str, seqs, t0: float) -> dict:
    records = [
        {"seq": s, "t": t0 + 60 * (s % 100_000), "steps": (s * 13) % 120,
         "activity_count": (s * 31) % 4000, "enmo_mg": (s * 17) % 200, "hr_mean": 50 + s % 60,
         "worn": s % 11 != 0}
        for s in seqs
    ]  # fmt: skip
    return {"v": 1, "band_id": band, "gateway_id": "gw-test", "stream": "epoch",
            "received_at": T0 + 86400 * 3, "records": records}  # fmt: skip


def publish_week_backlog(publisher, topics: Topics, band: str) -> int:
    """A band that was away syncs the week before ``T0``: minute heart rate and epochs in
    pages of 400, newest first, as a gateway sends a backlog. Returns the messages sent."""
    week_ago, sent = T0 - 7 * 86400, 0
    for first in reversed(range(0, 7 * 1440, 400)):
        seqs = range(100_000 + first, 100_000 + min(first + 400, 7 * 1440))
        publisher(topics.records(band, "hr"), _hr(band, seqs, week_ago, 60.0))
        publisher(topics.records(band, "epoch"), _epochs(band, seqs, week_ago))
        sent += 2
    return sent


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return sorted(conn.execute(query).fetchall())


def _assert_rollups_equal_recount(url: str) -> None:
    for table, query in RECOMPUTED.items():
        assert _rows(url, KEPT[table]) == _rows(url, query), table


async def _answers(api, band: str, days: list[dt.date]) -> list:
    out = []
    for day in days:
        out.append((await api.get(f"/bands/{band}/summary", params={"date": str(day)})).json())
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        for res, span in (("1m", dt.timedelta(hours=3)), ("5m", dt.timedelta(days=1)),
                          ("1h", dt.timedelta(days=2))):  # fmt: skip
            params = {"start": (start + dt.timedelta(seconds=37)).isoformat(),
                      "end": (start + span).isoformat(), "resolution": res}  # fmt: skip
            out.append((await api.get(f"/bands/{band}/hr", params=params)).json())
    return out


async def test_rollups_follow_live_data_and_a_late_backlog(settings, ingest, publisher, owner):
    url, topics, sent = settings.database_url, Topics(), 0
    with psycopg.connect(url) as conn:  # its days are Kathmandu's (UTC+5:45)
        conn.execute("INSERT INTO bands (band_id, time_zone) VALUES ('BH-0002', 'Asia/Kathmandu')")
    settings.api_expensive_per_min = 100_000  # many reads in a minute, on purpose
    api = owner.client
    # live: two days, small messages, interleaved bands, every fifth message re-sent
    for m in range(288):
        for band in BANDS:
            seqs = range(m * 10, m * 10 + 10)
            batches = [("hr", _hr(band, seqs, T0, 60.0))]
            if m % 2 == 0:
                batches.append(("epoch", _epochs(band, range(m * 5, m * 5 + 10), T0)))
            for stream, batch in batches * (2 if m % 5 == 0 else 1):
                publisher(topics.records(band, stream), batch)
                sent += 1
    await eventually(lambda: ingest.stats.messages == sent, 60, "live messages stored")
    _assert_rollups_equal_recount(url)
    owner.own(url, *BANDS)
    days = [dt.date(2026, 11, 24), dt.date(2026, 11, 25)]
    rolled = await _answers(api, "BH-0001", days)

    sent += publish_week_backlog(publisher, topics, "BH-0001")
    await eventually(lambda: ingest.stats.messages == sent, 60, "the backlog stored")
    _assert_rollups_equal_recount(url)
    days += [dt.date(2026, 11, 17), dt.date(2026, 11, 20), dt.date(2026, 11, 23)]
    rolled = await _answers(api, "BH-0001", days)
    summaries = rolled[::4]
    assert all(s["heart_rate"]["min"] is not None for s in summaries)
    assert all(s["steps"] > 0 for s in summaries if s["date"] != "2026-11-25")  # no epochs
    assert all(len(series["points"]) > 0 for i, series in enumerate(rolled) if i % 4)
    assert _rows(url, "SELECT count(*) FROM day_summaries WHERE band_id = 'BH-0001'") == [
        (len(days),)
    ]
    assert (await _answers(api, "BH-0001", days)) == rolled  # the stored summaries
    with psycopg.connect(url) as conn:  # stored by other code: not used
        conn.execute(
            "UPDATE day_summaries SET computed_with = 'older code',"
            " summary = jsonb_set(summary, '{steps}', '-1')"
        )
    assert (await _answers(api, "BH-0001", days)) == rolled

    # Kathmandu's local days start at 18:15 UTC: the hourly buckets across its midnights
    # come from the rollups (both days are kept), and equal the raw rows' answer
    nepal = await _answers(api, "BH-0002", days[:2])
    assert all(len(series["points"]) > 0 for i, series in enumerate(nepal) if i % 4)

    with psycopg.connect(url) as conn:  # without rollups the API reads the raw rows
        conn.execute("DELETE FROM band_days WHERE band_id IN ('BH-0001', 'BH-0002')")
    assert (await _answers(api, "BH-0001", days)) == rolled
    assert (await _answers(api, "BH-0002", days[:2])) == nepal

    with psycopg.connect(url) as conn:  # recomputed from the raw rows: the same again
        conn.execute("TRUNCATE hr_1m, hr_1h, band_days, day_summaries")
        for band in BANDS:
            refresh_rollups(conn, band, dt.datetime(2026, 11, 16, tzinfo=dt.UTC),
                            dt.datetime(2026, 11, 28, tzinfo=dt.UTC))  # fmt: skip
    _assert_rollups_equal_recount_for_days_with_data(url)
    assert (await _answers(api, "BH-0001", days)) == rolled


def _assert_rollups_equal_recount_for_days_with_data(url: str) -> None:
    """After a refresh, days without data have rows of zeros (maintained, empty)."""
    for table, query in RECOMPUTED.items():
        kept = _rows(url, KEPT[table])
        if table == "band_days":
            kept = [r for r in kept if r[2] or r[6]]
        assert kept == _rows(url, query), table
