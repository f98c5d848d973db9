"""Heart rate's history in compact hourly blocks (migration 025): compaction keeps
every sample exactly, the API and the export answer the same before and after it, a
re-sent record that was already compacted is not stored again, a late record merges
into its hour's block, and retention cuts through a block exactly."""

from __future__ import annotations

import datetime as dt

import psycopg

from bandhub.contracts.messages import Topics
from bandhub.db import compaction, retention
from tests.e2e.helpers import eventually

T0 = 1_795_478_400  # 2026-11-24 00:00 UTC, more than a week before the tests run
BAND = "BH-0001"
ROWS = "SELECT band_id, seq, t, bpm, rr_ms, contact, received_at FROM {} ORDER BY t, seq"
RECOUNT = (
    "SELECT (SELECT array_agg(x ORDER BY x) FROM (SELECT band_id, t, n, bpm_sum FROM hr_1m) x),"
    " (SELECT array_agg(x ORDER BY x) FROM (SELECT band_id, date_bin('1 minute', t,"
    "  TIMESTAMPTZ '2000-01-01'), count(*)::int, sum(bpm)::int FROM hr_all GROUP BY 1, 2) x)"
)


def _hr(seqs, every_s: float = 5.0, received: float = T0 + 86400 * 2) -> dict:
    records = [
        {"seq": s, "t": T0 + every_s * s + (0.001 * (s % 7) if s % 5 else 0),
         "bpm": 45 + (s * 7) % 100, "contact": None if s % 11 == 0 else s % 4 != 0,
         "rr_ms": [800.0 + (s % 9) * 20.37, 810.5, 799.123] if s % 3 else []}
        for s in seqs
    ]  # fmt: skip
    return {"v": 1, "band_id": BAND, "gateway_id": "gw-test", "stream": "hr",
            "received_at": received + 0.000123 * seqs[0], "records": records}  # fmt: skip


def _rows(url: str, source: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(ROWS.format(source)).fetchall()


async def _answers(api) -> list:
    out = []
    for day in ("2026-11-24", "2026-11-25"):
        out.append((await api.get(f"/bands/{BAND}/summary", params={"date": day})).json())
    for res, start, end in (("1m", "2026-11-24T00:00:37Z", "2026-11-24T05:00:00Z"),
                            ("1h", "2026-11-24T01:13:00Z", "2026-11-25T03:00:00Z")):  # fmt: skip
        params = {"start": start, "end": end, "resolution": res}
        out.append((await api.get(f"/bands/{BAND}/hr", params=params)).json())
    export = (await api.get(f"/bands/{BAND}/export")).json()
    out.append(export["records"]["hr"])
    return out


async def test_compacted_history_answers_the_same(settings, ingest, publisher, owner):
    url, topic, sent = settings.database_url, Topics().records(BAND, "hr"), 0
    settings.api_expensive_per_min = 100_000
    for first in range(0, 27 * 720, 360):  # 27 hours at 5 s, in pages of 360
        publisher(topic, _hr(list(range(first, first + 360))))
        sent += 1
    await eventually(lambda: ingest.stats.messages == sent, 60, "history stored")
    owner.own(url, BAND)
    rows = _rows(url, "hr")
    assert len(rows) == 27 * 720
    before = await _answers(owner.client)

    with psycopg.connect(url, autocommit=True) as conn:
        assert compaction.compact(conn, settings) == 27
        assert conn.execute("SELECT count(*) FROM hr").fetchone() == (0,)
        conn.execute("DELETE FROM day_summaries")  # computed again, from the blocks
    assert _rows(url, "hr_all") == rows
    assert await _answers(owner.client) == before
    with psycopg.connect(url) as conn:  # and without rollups: raw samples only
        conn.execute("DELETE FROM band_days")
        conn.execute("DELETE FROM day_summaries")
    assert await _answers(owner.client) == before

    # a page re-sent after compaction, and two records that are new (a gap filled late)
    publisher(topic, _hr(list(range(720, 1080))))
    late = _hr([900_000, 900_001])
    for i, r in enumerate(late["records"]):
        r["t"] = T0 + 3600 + 2.5 + i * 5  # between two stored samples of hour 1
    publisher(topic, late)
    sent += 2
    await eventually(lambda: ingest.stats.messages == sent, 30, "re-sent page handled")
    assert len(_rows(url, "hr")) == 2
    expected = sorted([*rows, *_rows(url, "hr")], key=lambda r: (r[2], r[1]))
    with psycopg.connect(url, autocommit=True) as conn:
        assert compaction.compact(conn, settings) == 1  # merged into its hour's block
    assert _rows(url, "hr_all") == expected
    with psycopg.connect(url) as conn:
        kept, recounted = conn.execute(RECOUNT).fetchone()
    assert kept == recounted  # nothing counted twice in the rollups

    # retention cuts through an hour's block: exactly the older samples go
    now = dt.datetime.now(dt.UTC)
    cut = dt.datetime.fromtimestamp(T0 + 3 * 3600 + 1234.5, dt.UTC)
    settings.retention_hr_days = (now - cut).total_seconds() / 86400
    with psycopg.connect(url) as conn:
        deleted = retention.enforce(conn, settings)
    kept_rows = _rows(url, "hr_all")
    assert kept_rows == [r for r in expected if r[2] >= kept_rows[0][2]]
    assert abs((kept_rows[0][2] - cut).total_seconds()) < 6  # at the cut, give or take now
    assert deleted["heart_rate"] == len(expected) - len(kept_rows)
