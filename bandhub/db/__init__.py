"""Database access: connections and schema migrations (PostgreSQL, TimescaleDB when present)."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

_TIME_SERIES = ("hr", "epochs", "falls", "buttons", "battery")
_LOCK_ID = 4_242_001  # advisory lock so concurrent starters migrate once
# advisory lock class of a band's rollups (ingest shares it, a rebuild takes it alone:
# ingest/rollups.py, migration 022), keyed by hashtext(band_id)
ROLLUP_LOCK = 4_242_011


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)


def migrate(url: str) -> bool:
    """Apply pending migrations; returns True when TimescaleDB hypertables are in use."""
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            files = sorted(
                f for f in resources.files("bandhub.db.migrations").iterdir()
                if f.name.endswith(".sql")
            )  # fmt: skip
            for f in files:
                if f.name in done:
                    continue
                with conn.transaction():
                    conn.execute(f.read_text())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (f.name,))
                log.info("applied migration %s", f.name)
            return _timescale(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _timescale(conn: psycopg.Connection) -> bool:
    """Turn the time-series tables into hypertables when the extension can be had."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        log.info(
            "TimescaleDB not available (%s); plain PostgreSQL tables", exc.diag.message_primary
        )
        return False
    for table in _TIME_SERIES:
        conn.execute(
            "SELECT create_hypertable(%s, 't', if_not_exists => TRUE, migrate_data => TRUE)",
            (table,),
        )
    return True
