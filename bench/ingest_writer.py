"""Ingest's database writer alone, checkouts side by side: records/s of
``RecordWriter.write`` on batches already validated (6 pages of 370 heart-rate
records per transaction, 59 transactions into a fresh database), with each
checkout's own code and migrations, the checkouts interleaved ROUNDS times so that
a busy machine slows them alike.

    python bench/ingest_writer.py --src ../main --src . [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

_ONE_RUN = """
import json, sys, time, uuid
import psycopg
from psycopg import sql
from bandhub.contracts.messages import Topics
from bandhub.db import migrate
from ingest.validate import parse_message
from ingest.writer import RecordWriter
server, T0, topics = sys.argv[1], 1_795_478_400, Topics()
def page(band, first):
    recs = [{"seq": s, "t": T0 + 5 * s, "bpm": 60 + s % 40, "contact": True,
             "rr_ms": [1000.0 - s % 40, 990.0] if s % 2 == 0 else []}
            for s in range(first, first + 370)]
    return topics.records(band, "hr"), json.dumps({"v": 1, "band_id": band,
        "gateway_id": "gw", "stream": "hr", "received_at": T0 + 5 * (first + 370),
        "records": recs}).encode()
batches = [[(t, parse_message(topics, t, p, 1e9, 1e9))
            for t, p in (page(f"BH-{b:04d}", i * 370) for b in range(1, 7))]
           for i in range(60)]
name = f"bandhub_writer_{uuid.uuid4().hex[:8]}"
with psycopg.connect(server, autocommit=True) as admin:
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
url = psycopg.conninfo.make_conninfo(server, dbname=name)
try:
    migrate(url)
    with psycopg.connect(url) as conn:
        w = RecordWriter(conn, auto_register=True, countdown_s=0)
        w.write(batches[0])
        start = time.perf_counter()
        for b in batches[1:]:
            w.write(b)
        print(59 * 6 * 370 / (time.perf_counter() - start))
finally:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a checkout")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = os.environ.get(
        "BANDHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    rates: dict[str, list[float]] = {src: [] for src in args.src}
    for _ in range(args.rounds):
        for src in args.src:
            env = os.environ | {"PYTHONPATH": str(Path(src).resolve())}
            out = subprocess.run(
                [sys.executable, "-c", _ONE_RUN, server],
                env=env, cwd="/", capture_output=True, text=True, check=True,
            )  # fmt: skip
            rates[src].append(float(out.stdout.split()[-1]))
    print(f"{'checkout':<40}{'writer records/s (median)':>28}{'runs':>30}")
    for src, r in rates.items():
        runs = ", ".join(f"{x:,.0f}" for x in r)
        print(f"{src:<40}{statistics.median(r):>28,.0f}{runs:>30}")


if __name__ == "__main__":
    main()
