"""The heart-rate series from the rollups where ingest keeps them, raw rows elsewhere.

Whole rollup buckets (an hour for hourly points, else a minute) inside the request
on the local days ingest maintains (``band_days``, each with its interval) come from
``hr_1h``/``hr_1m``; the ragged edges and other days from the raw samples
(``hr_range``: rows and compact blocks). Both give count, sum, min and max, so a point
is the same whichever source it came from: the mean is the sum over the count.
"""

from __future__ import annotations

import datetime as dt

from psycopg import AsyncConnection

from api.db import fetch_all, fetch_one

Span = tuple[dt.datetime, dt.datetime]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)


def _floor(t: dt.datetime, step: int, origin: int) -> dt.datetime:
    """The bucket boundary at or before ``t`` (exact: integer microseconds)."""
    us = (t - _EPOCH) // _US - origin * 1_000_000
    return t - (us % (step * 1_000_000)) * _US


def _ceil(t: dt.datetime, step: int, origin: int) -> dt.datetime:
    floor = _floor(t, step, origin)
    return floor if floor == t else floor + dt.timedelta(seconds=step)


def _split(start: dt.datetime, end: dt.datetime, days: list[Span], step: int, origin: int):
    """(rollup spans, raw spans) covering [start, end) exactly: whole rollup buckets
    inside the maintained days. Local days' edges need not be on a bucket's (India's
    midnight is 18:30 UTC), so touching days are joined first: the bucket across their
    midnight is maintained on both sides and comes from the rollup, not the raw rows."""
    lo, hi = _ceil(start, step, origin), _floor(end, step, origin)
    joined: list[Span] = []
    for t0, t1 in sorted(days):
        if joined and t0 <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], t1))
        else:
            joined.append((t0, t1))
    rolled: list[Span] = []
    for t0, t1 in joined:
        a = max(lo, _ceil(t0, step, origin))
        b = min(hi, _floor(t1, step, origin))
        if a < b:
            if rolled and rolled[-1][1] == a:
                a = rolled.pop()[0]
            rolled.append((a, b))
    raw: list[Span] = []
    cursor = start
    for a, b in rolled:
        if cursor < a:
            raw.append((cursor, a))
        cursor = b
    if cursor < end:
        raw.append((cursor, end))
    return rolled, raw


async def hr_points(
    conn: AsyncConnection, band_id: str, start: dt.datetime, end: dt.datetime, seconds: int
) -> list[dict]:
    """Points of ``seconds`` each (bucket start, mean, min, max) in [start, end)."""
    info = await fetch_one(
        conn,
        "SELECT extract(epoch FROM TIMESTAMPTZ '2000-01-01')::bigint AS origin,"
        " coalesce(array_agg(t0 ORDER BY t0), '{}') AS t0s,"
        " coalesce(array_agg(t1 ORDER BY t0), '{}') AS t1s FROM band_days"
        " WHERE band_id = %s AND t0 < %s AND t1 > %s",
        (band_id, end, start),
    )
    origin = info["origin"]  # the buckets' origin, in the session's time zone
    table, step = ("hr_1h", 3600) if seconds % 3600 == 0 else ("hr_1m", 60)
    if origin % step:  # buckets of the answer would split rollup buckets
        table, step = "hr_1m", 60
    days = list(zip(info["t0s"], info["t1s"], strict=True)) if origin % step == 0 else []
    rolled, raw = _split(start, end, days, step, origin)
    parts, params = [], []
    for a, b in rolled:
        parts.append(
            f"SELECT t, n, bpm_sum AS s, bpm_min AS lo, bpm_max AS hi FROM {table}"
            " WHERE band_id = %s AND t >= %s AND t < %s"
        )
        params += [band_id, a, b]
    for a, b in raw:
        parts.append("SELECT t, 1 AS n, bpm AS s, bpm AS lo, bpm AS hi FROM hr_range(%s, %s, %s)")
        params += [band_id, a, b]
    return await fetch_all(
        conn,
        "SELECT date_bin(make_interval(secs => %s), t, TIMESTAMPTZ '2000-01-01') AS t,"
        " round(sum(s)::numeric / sum(n), 1)::float AS bpm, min(lo) AS min, max(hi) AS max"
        f" FROM ({' UNION ALL '.join(parts)}) x GROUP BY 1 ORDER BY 1",
        (seconds, *params),
    )
