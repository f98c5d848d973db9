"""How long each kind of data is kept, enforced by a job: rows older than their kind's
limit are deleted (on TimescaleDB the same limits become retention policies, which drop
whole chunks). A limit of 0 keeps that kind forever."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from bandhub.settings import Settings

log = logging.getLogger(__name__)

# kind: (table, time column, setting)
KINDS = {
    "heart_rate": ("hr", "t", "retention_hr_days"),
    "epochs": ("epochs", "t", "retention_epochs_days"),
    "fall_windows": ("falls", "t", "retention_falls_days"),
    "dead_letters": ("dead_letters", "received_at", "retention_dead_letters_days"),
    "audit": ("audit_log", "at", "retention_audit_days"),
}
_HYPERTABLES = {"hr", "epochs", "falls"}


def limits(settings: Settings) -> dict[str, float]:
    return {kind: getattr(settings, setting) for kind, (_t, _c, setting) in KINDS.items()}


def _timescale(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def _trim_hr_blocks(conn: psycopg.Connection, days: float) -> int:
    """Heart rate's compact history (migration 025): blocks wholly past the limit go
    (returns their samples); a block the limit cuts through is put back into ``hr``
    as rows, where the DELETE that follows takes its old part."""
    limit = "now() - make_interval(secs => %s)"
    (gone,) = conn.execute(
        f"WITH gone AS (DELETE FROM hr_blocks WHERE t_last < {limit} RETURNING n)"
        " SELECT coalesce(sum(n), 0) FROM gone",
        (days * 86400,),
    ).fetchone()
    conn.execute(
        f"SELECT hr_explode(band_id, t0) FROM hr_blocks WHERE t_first < {limit}", (days * 86400,)
    )
    return int(gone)


def enforce(conn: psycopg.Connection, settings: Settings) -> dict[str, int]:
    """Delete what is past its kind's limit; returns rows deleted per kind (a kind left
    to a TimescaleDB policy reports -1)."""
    deleted: dict[str, int] = {}
    timescale = _timescale(conn)
    with conn.transaction():
        conn.execute("SET LOCAL bandhub.purge = 'on'")  # the audit log allows it here only
        for kind, (table, column, _setting) in KINDS.items():
            days = limits(settings)[kind]
            if days <= 0:
                continue
            blocks = _trim_hr_blocks(conn, days) if table == "hr" else 0
            if timescale and table in _HYPERTABLES:
                conn.execute("SELECT remove_retention_policy(%s, if_exists => true)", (table,))
                conn.execute(
                    "SELECT add_retention_policy(%s, make_interval(secs => %s))",
                    (table, days * 86400),
                )
                deleted[kind] = -1
                continue
            result = conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} < now() - make_interval(secs => %s)").format(
                    sql.Identifier(table), sql.Identifier(column)
                ),
                (days * 86400,),
            )
            deleted[kind] = result.rowcount + blocks
    if any(n > 0 for n in deleted.values()):
        log.info("retention: deleted %s", deleted)
    return deleted
