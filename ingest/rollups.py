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
from bandhub.db import ROLLUP_LOCK
from ingest import hr_copy, pg_binary

_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00+00'"
_DAY = "band_local_day(band_id, t)"  # the wearer's local day (migration 022)
_MINUTE = f"date_bin('1 minute', t, {_ORIGIN})"


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
    " worn_min = band_days.worn_min + EXCLUDED.worn_min,"
    " active_min = band_days.active_min + EXCLUDED.active_min,"
    " version = nextval('band_day_version'), dirty = true"  # for the summary refresher
)
ACTIVE_STEPS = 100  # steps in a minute from which it counts as active (brisk walking)

# heart rate per minute first: a day's edges are on whole minutes in every zone, and
# the zone is looked up once per band and minute, not per record
_HR_DAYS = (
    "INSERT INTO band_days (band_id, day, hr_n, hr_sum, hr_min, hr_max)"
    " SELECT band_id, band_local_day(band_id, m), sum(n), sum(s), min(lo), max(hi)"
    " FROM ({minutes}) x GROUP BY 1, 2 ORDER BY 1, 2" + _DAY_ADD
)
_EPOCH_DAYS = (
    "INSERT INTO band_days (band_id, day, epochs, steps, worn_min, active_min)"
    " SELECT band_id, band_local_day(band_id, m), sum(n), sum(steps), sum(worn), sum(active)"
    " FROM ({minutes}) x GROUP BY 1, 2 ORDER BY 1, 2" + _DAY_ADD
)

# per stream: what the insert returns besides the key, and the rollup statements
# (CTEs over ``new``, the rows just inserted)
_RETURNING: dict[Stream, str] = {Stream.HR: ", bpm", Stream.EPOCH: ", steps, worn"}
_ROLLUPS: dict[Stream, list[str]] = {
    Stream.HR: [
        _hr_upsert("hr_1m", "1 minute", "new"),
        _hr_upsert("hr_1h", "1 hour", "new"),
        _HR_DAYS.format(
            minutes=f"SELECT band_id, {_MINUTE} AS m, count(*) AS n, sum(bpm) AS s,"
            " min(bpm) AS lo, max(bpm) AS hi FROM new GROUP BY 1, 2"
        ),
    ],
    Stream.EPOCH: [
        _EPOCH_DAYS.format(
            minutes=f"SELECT band_id, {_MINUTE} AS m, count(*) AS n, sum(steps) AS steps,"
            " count(*) FILTER (WHERE worn) AS worn,"
            f" count(*) FILTER (WHERE worn AND steps >= {ACTIVE_STEPS}) AS active"
            " FROM new GROUP BY 1, 2"
        ),
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


_HR_ARRAYS = (
    "unnest(%s::text[], %s::timestamptz[], %s::int[], %s::bigint[], %s::int2[], %s::int2[])"
)


def _hr_arrays(agg: list[tuple[str, int, list[int]]], width_us: int) -> list[pg_binary.PgArray]:
    """(band, bucket, [n, sum, min, max]) as binary arrays for ``_HR_ARRAYS``."""
    return [
        pg_binary.text_array([band for band, _b, _a in agg]),
        pg_binary.fixed_array(pg_binary.TimestamptzArray, [b * width_us for _band, b, _a in agg]),
        pg_binary.fixed_array(pg_binary.Int4Array, [a[0] for *_k, a in agg]),
        pg_binary.fixed_array(pg_binary.Int8Array, [a[1] for *_k, a in agg]),
        pg_binary.fixed_array(pg_binary.Int2Array, [a[2] for *_k, a in agg]),
        pg_binary.fixed_array(pg_binary.Int2Array, [a[3] for *_k, a in agg]),
    ]


def add_hr_minutes(conn: psycopg.Connection, minutes: dict[tuple[str, int], list[int]]) -> None:
    """Add heart rate that was all just inserted to the rollups, from its per-minute
    count, sum, min and max of bpm ((band_id, minute since 2000-01-01 UTC) as keys,
    ``ingest.hr_copy`` aggregates them while encoding): the direct path's counterpart
    of the statements in ``insert_sql``. ``conn`` must have ``pg_binary.register``ed."""
    minute = [(band, m, a) for (band, m), a in sorted(minutes.items())]
    hours: dict[tuple[str, int], list[int]] = {}
    for band, m, agg in minute:
        hr_copy.add_aggregate(hours, (band, m // 60), *agg)
    hour = [(band, h, a) for (band, h), a in sorted(hours.items())]
    minute_arrays = _hr_arrays(minute, pg_binary.MINUTE_US)
    for table, args in (
        ("hr_1m", minute_arrays),
        ("hr_1h", _hr_arrays(hour, 60 * pg_binary.MINUTE_US)),
    ):
        conn.execute(
            f"INSERT INTO {table} (band_id, t, n, bpm_sum, bpm_min, bpm_max)"
            f" SELECT * FROM {_HR_ARRAYS}" + _hr_add(table),
            args,
        )
    conn.execute(
        _HR_DAYS.format(minutes=f"SELECT * FROM {_HR_ARRAYS} AS u(band_id, m, n, s, lo, hi)"),
        minute_arrays,
    )


def add_inserted(conn: psycopg.Connection, stream: Stream, rows: list[tuple]) -> None:
    """Add rows that were all just inserted (as ingest's writer lays them out:
    band_id, seq, t, then the stream's columns) to the rollups: the direct path's
    counterpart of the statements in ``insert_sql``, aggregated here first. Heart
    rate has ``add_hr_minutes``."""
    if stream == Stream.EPOCH:  # steps r[3], worn r[7]
        minutes: dict[tuple, list[int]] = {}
        for r in rows:
            a = minutes.setdefault((r[0], r[2].replace(second=0, microsecond=0)), [0, 0, 0, 0])
            a[0] += 1
            a[1] += r[3]
            a[2] += 1 if r[7] else 0
            a[3] += 1 if r[7] and r[3] >= ACTIVE_STEPS else 0
        conn.execute(
            _EPOCH_DAYS.format(
                minutes="SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::int[],"
                " %s::bigint[], %s::int[], %s::int[]) AS u(band_id, m, n, steps, worn, active)"
            ),
            _columns([(*k, *a) for k, a in sorted(minutes.items())]),
        )


def lock_bands(conn: psycopg.Connection, bands: list[str], *, exclusive: bool = False) -> None:
    """Per-band transaction locks: shared for ingest, exclusive for a refresh."""
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(
        f"SELECT {fn}(%s, hashtext(b)) FROM (SELECT unnest(%s::text[]) AS b ORDER BY 1) o",
        (ROLLUP_LOCK, sorted(bands)),
    )


def refresh_rollups(
    conn: psycopg.Connection, band_id: str, start: dt.datetime, end: dt.datetime
) -> None:
    """Recompute ``band_id``'s rollups for the local days that [start, end) touches
    from its raw rows, in one transaction; afterwards the API reads rollups for those
    days. The heart-rate rollups are recomputed over whole UTC days around them."""
    with conn.transaction():
        lock_bands(conn, [band_id], exclusive=True)
        lo, hi = conn.execute(
            "SELECT band_day_start(%(b)s, band_local_day(%(b)s, %(s)s)),"
            " band_day_start(%(b)s, band_local_day(%(b)s, %(e)s - interval '1 microsecond') + 1)",
            {"b": band_id, "s": start, "e": end},
        ).fetchone()
        first = lo.astimezone(dt.UTC).date()
        last = (hi.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()
        rng = (
            band_id,
            dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
        )
        raw_hr = "(SELECT band_id, t, bpm FROM hr_range(%s, %s, %s)) s"  # rows and blocks
        for table, width in (("hr_1m", "1 minute"), ("hr_1h", "1 hour")):
            conn.execute(f"DELETE FROM {table} WHERE band_id = %s AND t >= %s AND t < %s", rng)
            conn.execute(_hr_upsert(table, width, raw_hr), rng)
        conn.execute("SELECT refresh_band_days(%s, %s, %s)", (band_id, start, end))
