"""Ingest workers' MQTT sessions, registered in PostgreSQL so none is ever stranded.

Every worker holds a *slot*: a session-level advisory lock on a connection it keeps
open, and a row in ``ingest_sessions`` naming the MQTT client id of that slot. The
lock lasts exactly as long as the worker's database session, so a worker that stops
or is killed (``kill -9``) gives it up at once, while its persistent MQTT session
keeps collecting its share of the messages. A live worker that can take the lock of
a registered slot knows that slot's owner is gone, and adopts the session: it
connects with that client id, drains what is queued, then lets the slot go
(``ingest.adopt``). A worker that starts takes the lowest free slot, so a restarted
worker picks its own session up again when it comes back in time.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

LOCK_CLASS = 4_242_016  # advisory locks (LOCK_CLASS, slot); 4_242_001 is migrations'


class SessionRegistry:
    """One worker's view of the slots, on its own autocommit connection."""

    def __init__(self, url: str, client_prefix: str) -> None:
        self.url = url
        self.prefix = client_prefix
        self.slot: int | None = None
        self._conn = psycopg.connect(url, autocommit=True)

    def client_id(self, slot: int) -> str:
        return f"{self.prefix}-{slot}"

    def _try_lock(self, slot: int) -> bool:
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, slot)
        ).fetchone()
        return bool(row and row[0])

    def unlock(self, slot: int) -> None:
        self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, slot))

    def claim(self) -> int:
        """Take the lowest slot no live worker holds; returns it."""
        slot = 0
        while not self._try_lock(slot):
            slot += 1
        self._register(slot)
        self.slot = slot
        return slot

    def _register(self, slot: int) -> None:
        self._conn.execute(
            "INSERT INTO ingest_sessions (slot, client_id) VALUES (%s, %s)"
            " ON CONFLICT (slot) DO UPDATE SET client_id = EXCLUDED.client_id,"
            " drained = false, claimed_at = now(), adopted_at = NULL, first_drained_at = NULL",
            (slot, self.client_id(slot)),
        )

    def reclaim(self) -> bool:
        """After the lock connection was lost: take our own slot back (False: someone
        else holds it now, e.g. a worker draining it; try again later)."""
        try:
            self._conn.close()
            self._conn = psycopg.connect(self.url, autocommit=True)
            if self.slot is None or not self._try_lock(self.slot):
                return False
            self._register(self.slot)
            return True
        except psycopg.OperationalError:
            return False

    def healthy(self) -> bool:
        """True while our lock connection (and so our slot) is alive."""
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def orphans(self) -> list[int]:
        """Registered, undrained slots whose worker is gone: locked for us to drain."""
        rows = self._conn.execute(
            "SELECT slot FROM ingest_sessions WHERE NOT drained AND slot <> %s ORDER BY slot",
            (self.slot if self.slot is not None else -1,),
        ).fetchall()
        return [slot for (slot,) in rows if self._try_lock(slot)]

    def adopting(self, slot: int) -> None:
        """We hold the slot's lock and drain its session now (when: for the record)."""
        self._conn.execute("UPDATE ingest_sessions SET adopted_at = now() WHERE slot = %s", (slot,))

    def drained(self, slot: int, messages: int, first_at: float | None = None) -> None:
        """The slot's session holds nothing more: mark it, and let the slot go."""
        self._conn.execute(
            "UPDATE ingest_sessions SET drained = true, drained_at = now(),"
            " drained_messages = %s, drained_by = %s, first_drained_at = to_timestamp(%s)"
            " WHERE slot = %s",
            (messages, self.client_id(self.slot) if self.slot is not None else None, first_at,
             slot),
        )  # fmt: skip
        self.unlock(slot)

    def close(self) -> None:
        self._conn.close()
