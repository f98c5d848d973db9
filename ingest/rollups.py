"""Keep the rollups (migration 011) current: incrementally as ingest inserts records,
or recomputed from the raw rows for a band's days (``refresh_rollups``).

Ingest adds only the rows its insert really stored (what ``INSERT … ON CONFLICT DO
NOTHING`` returns), in the same statement and transaction, so a re-sent record is
never counted twice and a rollup is never ahead of or behind its records. Workers
take a shared advisory lock per band for the transaction; a refresh takes it
exclusively, so the two never interleave on one band.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from bandhub.contracts.messages import Stream

_LOCK_CLASS = 4_242_011
_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00+00'"
_DAY = "(t AT TIME ZONE 'UTC')::date"


def _hr_add(table: str) -> str:
    return (
        f" ON CONFLICT (band_id, t) DO UPDATE SET n = {table}.n + EXCLUDED.n,"
        f" bpm_sum = {table}.bpm_sum + EXCLUDED.bpm_sum,"
        f" bpm_min = LEAST({table}.bpm_min, EXCLUDED.bpm_min),"
        f" bpm_max = GREATEST({table}.bpm_max, EXCLUDED.bpm_max)"
    )


def _hr_upsert(table: str, width: str, source: str) -> str:
    return (
        f"INSERT INTO {table} (band_id, t, n, bpm_sum, bpm_min, bpm_max)"
        f" SELECT band_id, date_bin('{width}', t, {_ORIGIN}), count(*), sum(bpm), min(bpm),"
        f" max(bpm) FROM {source} GROUP BY 1, 2 ORDER BY 1, 2" + _hr_add(table)
    )


_DAY_ADD = (
    " ON CONFLICT (band_id, day) DO UPDATE SET hr_n = band_days.hr_n + EXCLUDED.hr_n,"
    " hr_sum = band_days.hr_sum + EXCLUDED.hr_sum,"
    " hr_min = LEAST(band_days.hr_min, EXCLUDED.hr_min),"
    " hr_max = GREATEST(band_days.hr_max, EXCLUDED.hr_max),"
    " epochs = band_days.epochs + EXCLUDED.epochs, steps = band_days.steps + EXCLUDED.steps,"
    " worn_min = band_days.worn_min + EXCLUDED.worn_min, version = band_days.version + 1"
)

# per stream: what the insert returns besides the key, and the rollup statements
# (CTEs over ``new``, the rows just inserted)
_RETURNING: dict[Stream, str] = {Stream.HR: ", bpm", Stream.EPOCH: ", steps, worn"}
_ROLLUPS: dict[Stream, list[str]] = {
    Stream.HR: [
        _hr_upsert("hr_1m", "1 minute", "new"),
        _hr_upsert("hr_1h", "1 hour", "new"),
        f"INSERT INTO band_days (band_id, day, hr_n, hr_sum, hr_min, hr_max)"
        f" SELECT band_id, {_DAY}, count(*), sum(bpm), min(bpm), max(bpm) FROM new"
        f" GROUP BY 1, 2 ORDER BY 1, 2" + _DAY_ADD,
    ],
    Stream.EPOCH: [
        f"INSERT INTO band_days (band_id, day, epochs, steps, worn_min)"
        f" SELECT band_id, {_DAY}, count(*), sum(steps), count(*) FILTER (WHERE worn)"
        f" FROM new GROUP BY 1, 2 ORDER BY 1, 2" + _DAY_ADD,
    ],
    Stream.FALL: [  # the day's summary counts falls: it is out of date now
        f"INSERT INTO band_days (band_id, day) SELECT DISTINCT band_id, {_DAY} FROM new"
        f" ORDER BY 1, 2" + _DAY_ADD,
    ],
}


def insert_sql(stream: Stream, table: str, col_list: str) -> str:
    """Move the staged rows into ``table``, add what was new to the rollups; returns
    the new rows' (band_id, seq, t)."""
    ctes = [
        f"new AS (INSERT INTO {table} ({col_list}) SELECT {col_list} FROM stage_{table}"
        f" ON CONFLICT DO NOTHING RETURNING band_id, seq, t{_RETURNING.get(stream, '')})"
    ]
    ctes += [f"r{i} AS ({sql})" for i, sql in enumerate(_ROLLUPS.get(stream, []))]
    return "WITH " + ", ".join(ctes) + " SELECT band_id, seq, t FROM new"


def _columns(rows: list[tuple]) -> list[list]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else []


def _per_minute(rows: list[tuple]) -> dict[tuple, list[int]]:
    """(band, minute) -> [count, sum, min, max] of bpm (r[3]) over the rows."""
    acc: dict[tuple, list[int]] = {}
    for r in rows:
        key, bpm = (r[0], r[2].replace(second=0, microsecond=0)), r[3]
        a = acc.get(key)
        if a is None:
            acc[key] = [1, bpm, bpm, bpm]
            continue
        a[0] += 1
        a[1] += bpm
        if bpm < a[2]:
            a[2] = bpm
        elif bpm > a[3]:
            a[3] = bpm
    return acc


def _merge(by_minute: dict[tuple, list[int]], bucket) -> list[tuple]:
    """Per-minute aggregates merged into coarser buckets, sorted by key."""
    out: dict[tuple, list[int]] = {}
    for (band, m), (n, s, lo, hi) in by_minute.items():
        key = (band, bucket(m))
        a = out.get(key)
        if a is None:
            out[key] = [n, s, lo, hi]
            continue
        a[0] += n
        a[1] += s
        a[2] = min(a[2], lo)
        a[3] = max(a[3], hi)
    return [(*k, *a) for k, a in sorted(out.items())]


def add_inserted(conn: psycopg.Connection, stream: Stream, rows: list[tuple]) -> None:
    """Add rows that were all just inserted (as ingest's writer lays them out:
    band_id, seq, t, then the stream's columns) to the rollups: the direct path's
    counterpart of the statements in ``insert_sql``, aggregated here first."""
    if stream == Stream.HR:
        by_minute = _per_minute(rows)  # one pass over the rows; hours and days from it
        minute = [(*k, *a) for k, a in sorted(by_minute.items())]
        hour = _merge(by_minute, lambda m: m.replace(minute=0))
        day = _merge(by_minute, lambda m: m.date())
        unnest = "unnest(%s::text[], %s::timestamptz[], %s::int[], %s::bigint[], %s::int2[],"
        for table, agg in (("hr_1m", minute), ("hr_1h", hour)):
            conn.execute(
                f"INSERT INTO {table} (band_id, t, n, bpm_sum, bpm_min, bpm_max)"
                f" SELECT * FROM {unnest} %s::int2[])" + _hr_add(table),
                _columns(agg),
            )
        conn.execute(
            "INSERT INTO band_days (band_id, day, hr_n, hr_sum, hr_min, hr_max)"
            f" SELECT * FROM {unnest.replace('timestamptz', 'date')} %s::int2[])" + _DAY_ADD,
            _columns(day),
        )
    elif stream == Stream.EPOCH:  # steps r[3], worn r[7]
        days: dict[tuple, list[int]] = {}
        for r in rows:
            a = days.setdefault((r[0], r[2].date()), [0, 0, 0])
            a[0] += 1
            a[1] += r[3]
            a[2] += 1 if r[7] else 0
        conn.execute(
            "INSERT INTO band_days (band_id, day, epochs, steps, worn_min) SELECT * FROM"
            " unnest(%s::text[], %s::date[], %s::int[], %s::bigint[], %s::int[])" + _DAY_ADD,
            _columns([(*k, *a) for k, a in sorted(days.items())]),
        )


def lock_bands(conn: psycopg.Connection, bands: list[str], *, exclusive: bool = False) -> None:
    """Per-band transaction locks: shared for ingest, exclusive for a refresh."""
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(
        f"SELECT {fn}(%s, hashtext(b)) FROM (SELECT unnest(%s::text[]) AS b ORDER BY 1) o",
        (_LOCK_CLASS, sorted(bands)),
    )


def refresh_rollups(
    conn: psycopg.Connection, band_id: str, start: dt.datetime, end: dt.datetime
) -> None:
    """Recompute ``band_id``'s rollups for the UTC days that [start, end) touches from
    its raw rows, in one transaction; afterwards the API reads rollups for those days."""
    first = start.astimezone(dt.UTC).date()
    last = (end.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()
    lo = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rng = (band_id, lo, hi)
    raw_hr = "(SELECT band_id, t, bpm FROM hr_range(%s, %s, %s)) s"  # rows and blocks
    with conn.transaction():
        lock_bands(conn, [band_id], exclusive=True)
        for table, width in (("hr_1m", "1 minute"), ("hr_1h", "1 hour")):
            conn.execute(f"DELETE FROM {table} WHERE band_id = %s AND t >= %s AND t < %s", rng)
            conn.execute(_hr_upsert(table, width, raw_hr), rng)
        conn.execute(
            "INSERT INTO band_days (band_id, day, hr_n, hr_sum, hr_min, hr_max, epochs, steps,"
            " worn_min) SELECT %s, d::date, coalesce(h.n, 0), coalesce(h.s, 0), h.lo, h.hi,"
            " coalesce(e.n, 0), coalesce(e.steps, 0), coalesce(e.worn, 0)"
            " FROM generate_series(%s::date, %s::date, interval '1 day') AS d"
            " LEFT JOIN (SELECT (t AT TIME ZONE 'UTC')::date AS day, sum(n) AS n,"
            "   sum(bpm_sum) AS s, min(bpm_min) AS lo, max(bpm_max) AS hi FROM hr_1h"
            "   WHERE band_id = %s AND t >= %s AND t < %s GROUP BY 1) h ON h.day = d::date"
            " LEFT JOIN (SELECT (t AT TIME ZONE 'UTC')::date AS day, count(*) AS n,"
            "   sum(steps) AS steps, count(*) FILTER (WHERE worn) AS worn FROM epochs"
            "   WHERE band_id = %s AND t >= %s AND t < %s GROUP BY 1) e ON e.day = d::date"
            " ON CONFLICT (band_id, day) DO UPDATE SET hr_n = EXCLUDED.hr_n,"
            " hr_sum = EXCLUDED.hr_sum, hr_min = EXCLUDED.hr_min, hr_max = EXCLUDED.hr_max,"
            " epochs = EXCLUDED.epochs, steps = EXCLUDED.steps, worn_min = EXCLUDED.worn_min,"
            " version = band_days.version + 1",
            (band_id, first, last, *rng, *rng),
        )
