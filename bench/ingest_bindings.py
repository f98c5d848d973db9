"""What ingest's second check of gateway bindings costs: RecordWriter.write with
``check_bindings`` off (the baseline) and on, side by side.

Writes the same batches (heart rate, 400 records per message, 5 messages per
transaction as ingest's default 2000-row batches, from BANDS bands bound to one
gateway) into a throwaway database on PostgreSQL (``BANDHUB_TEST_DATABASE_URL`` or
127.0.0.1:5432), emptying the tables between runs and alternating the two modes.

    python bench/ingest_bindings.py [--bands 20] [--messages 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import psycopg
from psycopg import sql

from bandhub.contracts.messages import HrRecord, Stream
from bandhub.db import migrate
from bandhub.principals.gateways import bind_band, register_gateway
from ingest.validate import Parsed
from ingest.writer import RecordWriter

T0 = 1_790_000_000
PER_MESSAGE = 400
PER_TRANSACTION = 5


def _messages(bands: list[str], n: int) -> list[tuple[str, Parsed]]:
    out = []
    for i in range(n):
        band = bands[i % len(bands)]
        first = (i // len(bands)) * PER_MESSAGE
        records = [
            HrRecord(seq=s, t=T0 + 5 * s, bpm=60 + s % 40, rr_ms=[1000.0])
            for s in range(first, first + PER_MESSAGE)
        ]
        parsed = Parsed(band, Stream.HR, T0 + 10, records, gateway_id="gw-bench")
        out.append((f"bandhub/v1/band/{band}/rec/hr", parsed))
    return out


def _run(url: str, messages: list[tuple[str, Parsed]], check: bool) -> float:
    """Rows per second for writing every message, ``check`` on or off."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE hr")
        conn.execute("UPDATE bands SET records = 0")
    with psycopg.connect(url) as conn:
        writer = RecordWriter(conn, auto_register=True, countdown_s=0, check_bindings=check)
        start = time.perf_counter()
        rows = 0
        for i in range(0, len(messages), PER_TRANSACTION):
            rows += sum(writer.write(messages[i : i + PER_TRANSACTION]).values())
        took = time.perf_counter() - start
    assert rows == len(messages) * PER_MESSAGE, f"{rows} rows stored"
    return rows / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = os.environ.get(
        "BANDHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"bandhub_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server, dbname=name)
    try:
        migrate(url)
        bands = [f"BH-{k + 1:04d}" for k in range(args.bands)]
        with psycopg.connect(url, autocommit=True) as conn:
            register_gateway(conn, None, "gw-bench")  # the database half is what ingest reads
            for band in bands:
                bind_band(conn, None, "gw-bench", band)
        messages = _messages(bands, args.messages)
        speeds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.runs):
            for check in (False, True):
                speeds[check].append(_run(url, messages, check))
        rows = args.messages * PER_MESSAGE
        print(f"{rows:,} heart-rate rows, {args.bands} bands, {args.runs} runs each")
        print(f"{'ingest writer':<32}{'median rows/s':>14}{'min':>10}{'max':>10}")
        for check, label in ((False, "no binding check (baseline)"), (True, "binding check")):
            s = speeds[check]
            print(f"{label:<32}{statistics.median(s):>14,.0f}{min(s):>10,.0f}{max(s):>10,.0f}")
        ratio = statistics.median(speeds[True]) / statistics.median(speeds[False])
        print(f"binding check / baseline: {ratio:.3f}")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main()
