"""Move closed hours of heart rate from ``hr`` (a row per sample) into ``hr_blocks`` (a
row per band and hour, ~20x smaller; migration 025), in small transactions so ingest
waits at most one of them for a band. Run by the monitor every few minutes."""

from __future__ import annotations

import logging

import psycopg

from bandhub.settings import Settings

log = logging.getLogger(__name__)

BLOCKS_PER_TRANSACTION = 100


def compact(conn: psycopg.Connection, settings: Settings, *, max_rounds: int = 1000) -> int:
    """Compact every hour that ended ``hr_compact_after_s`` ago; returns blocks written."""
    total = 0
    for _ in range(max_rounds):
        with conn.transaction():
            (n,) = conn.execute(
                "SELECT hr_compact(now() - make_interval(secs => %s), %s)",
                (settings.hr_compact_after_s, BLOCKS_PER_TRANSACTION),
            ).fetchone()
        total += n
        if n < BLOCKS_PER_TRANSACTION:
            break
    if total:
        log.info("compaction: %d hourly heart-rate blocks written", total)
    return total
