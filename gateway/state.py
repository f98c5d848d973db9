"""The gateway's durable state in one SQLite file: per-band sync cursors and the spool.

The spool holds MQTT messages that are not yet acknowledged by the broker. Records
read from a band go into the spool and advance that band's cursor in one SQLite
transaction, and only after that commit may the band forget them: whatever the
gateway was doing when killed, each record is on the band or in the spool. The
spool is drained in (priority, arrival) order, so a fall or a button press goes out
ahead of a backlog of epochs.

Three more things live here because they must survive a restart: the raw archive
(frames the gateway could not decode, kept byte for byte so a newer decoder can read
them later), each band's clock epochs (the offset its clock had before the gateway
set it, and the seq up to which records carry that offset), and commands waiting for
an absent band.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpoolEntry:
    id: int
    topic: str
    payload: str


@dataclass(frozen=True)
class RawFrame:
    """A record frame the gateway could not decode, exactly as the band sent it."""

    band_id: str
    seq: int
    reason: str
    raw: bytes


@dataclass(frozen=True)
class ClockEpoch:
    """Records before ``before_seq`` were stamped by a clock ``offset_s`` off (band minus
    gateway), measured just before the gateway set it at ``set_at``; for seqs in
    ``[from_seq, before_seq)`` (made while the clock was being set) either may hold."""

    from_seq: int
    before_seq: int
    offset_s: float
    set_at: float


class GatewayState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cursors (band_id TEXT PRIMARY KEY, next_seq INTEGER)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " priority INTEGER NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL,"
            " bytes INTEGER NOT NULL, queued_at REAL NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS spool_order ON spool (priority, id)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS paired (address TEXT PRIMARY KEY, band_id TEXT NOT NULL,"
            " name TEXT NOT NULL DEFAULT '', paired_at REAL NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS raw_frames (band_id TEXT NOT NULL, seq INTEGER NOT NULL,"
            " reason TEXT NOT NULL, raw BLOB NOT NULL, archived_at REAL NOT NULL,"
            " PRIMARY KEY (band_id, seq))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS clock_epochs (band_id TEXT NOT NULL,"
            " from_seq INTEGER NOT NULL, before_seq INTEGER NOT NULL, offset_s REAL NOT NULL,"
            " set_at REAL NOT NULL, PRIMARY KEY (band_id, before_seq))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS band_zones (band_id TEXT PRIMARY KEY, zone TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending_commands (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " band_id TEXT NOT NULL, request TEXT NOT NULL, expires_at REAL NOT NULL)"
        )
        rows, size = self._db.execute(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM spool"
        ).fetchone()
        self.spool_rows, self.spool_bytes = int(rows), int(size)

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

    def spool_and_advance(
        self,
        band_id: str,
        messages: list[tuple[int, str, str]],
        next_seq: int,
        raw_frames: Sequence[RawFrame] = (),
    ) -> None:
        """Store (priority, topic, payload) messages, undecodable frames and the band's
        new cursor atomically."""
        self._store(messages, (band_id, next_seq), raw_frames)

    def spool(self, messages: list[tuple[int, str, str]]) -> None:
        """Store messages without moving any cursor: an urgent copy of records the band
        still holds, which the record log delivers again later (ingest keeps one)."""
        self._store(messages, None)

    def _store(
        self,
        messages: list[tuple[int, str, str]],
        cursor: tuple[str, int] | None,
        raw_frames: Sequence[RawFrame] = (),
    ) -> None:
        now = time.time()
        rows = [(p, t, body, len(body), now) for p, t, body in messages]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO spool (priority, topic, payload, bytes, queued_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            if cursor is not None:
                self.save_cursor(*cursor)
            self._db.executemany(
                "INSERT OR REPLACE INTO raw_frames (band_id, seq, reason, raw, archived_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(f.band_id, f.seq, f.reason, f.raw, now) for f in raw_frames],
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.spool_rows += len(rows)
        self.spool_bytes += sum(r[3] for r in rows)

    def spool_next(self, limit: int) -> list[SpoolEntry]:
        rows = self._db.execute(
            "SELECT id, topic, payload FROM spool ORDER BY priority, id LIMIT ?", (limit,)
        ).fetchall()
        return [SpoolEntry(*r) for r in rows]

    def spool_remove(self, ids: list[int]) -> None:
        """The broker acknowledged these: forget them."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        self._db.execute("BEGIN IMMEDIATE")
        (size,) = self._db.execute(
            f"SELECT coalesce(sum(bytes), 0) FROM spool WHERE id IN ({marks})", ids
        ).fetchone()
        cur = self._db.execute(f"DELETE FROM spool WHERE id IN ({marks})", ids)
        self._db.execute("COMMIT")
        self.spool_rows -= cur.rowcount
        self.spool_bytes -= int(size)

    def oldest_spooled_age_s(self) -> float:
        row = self._db.execute("SELECT min(queued_at) FROM spool").fetchone()
        return 0.0 if row[0] is None else time.time() - float(row[0])

    def raw_frames(self, band_id: str) -> list[RawFrame]:
        """The band's archived undecodable frames, by seq."""
        rows = self._db.execute(
            "SELECT band_id, seq, reason, raw FROM raw_frames WHERE band_id = ? ORDER BY seq",
            (band_id,),
        ).fetchall()
        return [RawFrame(b, s, r, bytes(raw)) for b, s, r, raw in rows]

    # --- clock epochs: what a band's clock said before the gateway set it ----------------
    def add_clock_epoch(self, band_id: str, epoch: ClockEpoch) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO clock_epochs (band_id, from_seq, before_seq, offset_s, set_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (band_id, epoch.from_seq, epoch.before_seq, epoch.offset_s, epoch.set_at),
        )

    def clock_epochs(self, band_id: str) -> list[ClockEpoch]:
        """Epochs whose records the gateway may still read, oldest first; epochs entirely
        behind the cursor are forgotten."""
        self._db.execute(
            "DELETE FROM clock_epochs WHERE band_id = ? AND before_seq <= ?",
            (band_id, self.cursor(band_id)),
        )
        rows = self._db.execute(
            "SELECT from_seq, before_seq, offset_s, set_at FROM clock_epochs"
            " WHERE band_id = ? ORDER BY before_seq",
            (band_id,),
        ).fetchall()
        return [ClockEpoch(*r) for r in rows]

    # --- the wearer's time zone, for the band's local midnight (docs/gatt.md) ---------
    def band_zone(self, band_id: str) -> str | None:
        row = self._db.execute(
            "SELECT zone FROM band_zones WHERE band_id = ?", (band_id,)
        ).fetchone()
        return row[0] if row else None

    def set_band_zone(self, band_id: str, zone: str) -> None:
        self._db.execute(
            "INSERT INTO band_zones (band_id, zone) VALUES (?, ?)"
            " ON CONFLICT (band_id) DO UPDATE SET zone = excluded.zone",
            (band_id, zone),
        )

    # --- commands waiting for an absent band ------------------------------------------
    def add_pending_command(self, band_id: str, request: str, expires_at: float) -> int:
        cur = self._db.execute(
            "INSERT INTO pending_commands (band_id, request, expires_at) VALUES (?, ?, ?)",
            (band_id, request, expires_at),
        )
        return int(cur.lastrowid or 0)

    def pending_commands(self) -> list[tuple[int, str, str, float]]:
        """(row id, band_id, request JSON, expires_at) in arrival order."""
        return self._db.execute(
            "SELECT id, band_id, request, expires_at FROM pending_commands ORDER BY id"
        ).fetchall()

    def remove_pending_command(self, row_id: int) -> None:
        self._db.execute("DELETE FROM pending_commands WHERE id = ?", (row_id,))

    def add_paired(self, address: str, band_id: str, name: str = "") -> None:
        self._db.execute(
            "INSERT INTO paired (address, band_id, name, paired_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (address) DO UPDATE SET band_id = excluded.band_id,"
            " name = excluded.name",
            (address.upper(), band_id, name, time.time()),
        )

    def remove_paired(self, address_or_band: str) -> int:
        cur = self._db.execute(
            "DELETE FROM paired WHERE address = ? OR band_id = ?",
            (address_or_band.upper(), address_or_band),
        )
        return cur.rowcount

    def paired(self) -> list[tuple[str, str, str, float]]:
        """(address, band_id, name, paired_at) of every paired band."""
        return self._db.execute(
            "SELECT address, band_id, name, paired_at FROM paired ORDER BY band_id"
        ).fetchall()

    def close(self) -> None:
        self._db.close()
