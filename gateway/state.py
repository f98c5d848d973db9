"""The gateway's durable state: per-band sync cursors (next sequence number to fetch).

Kept in SQLite so a restarted (or killed) gateway resumes where it was; the band
still holds everything past the cursor, so losing this file only costs duplicates,
which ingest ignores.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class GatewayState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cursors (band_id TEXT PRIMARY KEY, next_seq INTEGER)"
        )

    def cursor(self, band_id: str) -> int:
        row = self._db.execute(
            "SELECT next_seq FROM cursors WHERE band_id = ?", (band_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def save_cursor(self, band_id: str, next_seq: int) -> None:
        self._db.execute(
            "INSERT INTO cursors (band_id, next_seq) VALUES (?, ?) "
            "ON CONFLICT (band_id) DO UPDATE SET next_seq = excluded.next_seq",
            (band_id, next_seq),
        )

    def close(self) -> None:
        self._db.close()
