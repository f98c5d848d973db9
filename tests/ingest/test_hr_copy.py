"""Heart rate encoded for binary COPY is stored exactly as psycopg stores the same
record from Python values: times to the microsecond (rounded as datetime rounds),
RR intervals as float4, no contact as NULL; its per-minute aggregates equal a GROUP
BY over the stored rows."""

from __future__ import annotations

import datetime as dt

import psycopg

from ingest import hr_copy, pg_binary
from ingest.validate import HrRow

T0 = 1_795_478_400  # 2026-11-24 00:00 UTC
RECORDS = [
    {"seq": 0, "t": float(T0), "bpm": 60, "rr_ms": [], "contact": True},
    {"seq": 1, "t": T0 + 0.0000005, "bpm": 61, "rr_ms": [1000.0], "contact": False},  # half
    {"seq": 2, "t": T0 + 0.0000015, "bpm": 250, "rr_ms": [812.25, 790.5, 801.0], "contact": None},
    {"seq": 3, "t": T0 + 59.9999996, "bpm": 20, "rr_ms": [], "contact": None},  # rounds up
    {"seq": 4, "t": T0 + 60.123456789, "bpm": 99, "rr_ms": [2999.9], "contact": True},
    {"seq": 5, "t": T0 + 3725.5, "bpm": 70, "rr_ms": [201.0, 202.0], "contact": True},
]
COLS = ", ".join(hr_copy.COLUMNS)
TABLE = (
    "band_id text, seq int8, t timestamptz, bpm int2, rr_ms real[], contact bool,"
    " received_at timestamptz"
)


def _stored(conn: psycopg.Connection, table: str) -> list[tuple]:
    return conn.execute(f"SELECT {COLS} FROM {table} ORDER BY seq").fetchall()


def test_encoded_rows_are_stored_as_psycopg_stores_them(database_url: str) -> None:
    received = T0 + 3726.25
    chunk = hr_copy.encode("BH-0042", [HrRow(**r) for r in RECORDS], received)
    with psycopg.connect(database_url) as conn:
        pg_binary.register(conn)
        for table in ("encoded", "adapted"):
            conn.execute(f"CREATE TEMP TABLE {table} ({TABLE})")
        with conn.cursor().copy(f"COPY encoded ({COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(hr_copy.payload([chunk]))
        ts = lambda u: dt.datetime.fromtimestamp(u, dt.UTC)  # noqa: E731
        conn.cursor().executemany(
            f"INSERT INTO adapted ({COLS}) VALUES (%s, %s, %s, %s, %s::real[], %s, %s)",
            [("BH-0042", r["seq"], ts(r["t"]), r["bpm"], r["rr_ms"], r["contact"], ts(received))
             for r in RECORDS],
        )  # fmt: skip
        encoded, adapted = _stored(conn, "encoded"), _stored(conn, "adapted")
        assert encoded == adapted
        assert encoded[1][2] == ts(T0)  # 0.5 µs rounds half to even, as datetime does
        assert encoded[3][2] == ts(T0 + 60)
        assert encoded[2][5] is None and encoded[2][4] == [812.25, 790.5, 801.0]
        by_minute = conn.execute(
            "SELECT extract(epoch FROM date_bin('1 minute', t, TIMESTAMPTZ '2000-01-01+00'))::int8,"
            " count(*), sum(bpm), min(bpm), max(bpm) FROM encoded GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert chunk.n == len(RECORDS)
    assert [(pg_binary.PG_EPOCH + m * 60, *a) for m, a in sorted(chunk.minutes.items())] == [
        tuple(row) for row in by_minute
    ]
    assert (chunk.t_min, chunk.t_max) == (
        pg_binary.pg_micros(T0),
        pg_binary.pg_micros(T0 + 3725.5),
    )


def test_binary_arrays_round_trip_as_query_parameters(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        pg_binary.register(conn)
        row = conn.execute(
            "SELECT %s::text[], %s::int2[], %s::int4[], %s::int8[], %s::timestamptz[], %s::int8[]",
            (
                pg_binary.text_array(["BH-0001", "bänd-2", ""]),
                pg_binary.fixed_array(pg_binary.Int2Array, [-32768, 0, 32767]),
                pg_binary.fixed_array(pg_binary.Int4Array, [1, 2**31 - 1]),
                pg_binary.fixed_array(pg_binary.Int8Array, [2**62]),
                pg_binary.fixed_array(pg_binary.TimestamptzArray, [pg_binary.pg_micros(T0)]),
                pg_binary.fixed_array(pg_binary.Int8Array, []),
            ),
        ).fetchone()
    assert row == (
        ["BH-0001", "bänd-2", ""],
        [-32768, 0, 32767],
        [1, 2**31 - 1],
        [2**62],
        [dt.datetime.fromtimestamp(T0, dt.UTC)],
        [],
    )
