"""Keep the stored daily summaries current as data arrives, so that the first read of
a day answers from ``day_summaries`` instead of computing sleep and HRV (issue 16).

Ingest marks a local day ``dirty`` whenever it adds to it (migration 037): its stored
summary and its neighbours' may be out of date (a summary depends on the versions of
its day and both neighbours). A round of the refresher takes the dirty days through
their partial index, finds which of the three summaries of each are really stale (the
same version check the read path makes), recomputes those not recomputed within
``summary_debounce_s``, newest day first with a commit each, and clears the mark of a
day whose three summaries are current and whose version is still the one it saw. A
day that changes meanwhile keeps its mark for the next round; a band syncing every
minute costs one computation per debounce interval, not one per message; a week-long
backlog marks every day it lands in. The read path does not rely on any of this: a
stale summary is computed on demand exactly as before.

Run by the ingest worker in slot 0, next to the alert monitor (one per installation,
like retention and compaction), in a process of its own (``SummaryRefresher``) so that
a backlog of computations never delays the alert rules nor slows ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.db import fetch_one
from api.summary import COMPUTED_WITH, stored_summary
from bandhub.settings import Settings

log = logging.getLogger(__name__)

ROUND_MAX = 100  # computations per round: then the dirty days are sifted again, newest first

# the summaries of the dirty days and of their neighbours, each current or not (the
# read path's own check) and computed lately or not (the debounce)
_TARGETS = (
    "WITH t AS (SELECT DISTINCT band_id, day + o AS day"
    "   FROM band_days, (VALUES (-1), (0), (1)) v(o) WHERE dirty)"
    " SELECT d.band_id, d.day,"
    " coalesce(s.computed_with = %(c)s AND s.depends_on"
    "   = ARRAY[coalesce(p.version, 0), d.version, coalesce(n.version, 0)], false) AS current,"
    " coalesce(s.computed_at > now() - %(debounce)s * interval '1 second', false) AS recent"
    " FROM t JOIN band_days d ON d.band_id = t.band_id AND d.day = t.day"
    " LEFT JOIN band_days p ON p.band_id = d.band_id AND p.day = d.day - 1"
    " LEFT JOIN band_days n ON n.band_id = d.band_id AND n.day = d.day + 1"
    " LEFT JOIN day_summaries s ON s.band_id = d.band_id AND s.day = d.day"
)

# the stale ones not computed lately, newest day first (at most a round's worth), with
# how many are due and how many wait out the debounce
_DUE = (
    f"WITH x AS ({_TARGETS}), stale AS (SELECT * FROM x WHERE NOT current),"
    " first AS (SELECT band_id, day FROM stale WHERE NOT recent"
    "   ORDER BY day DESC, band_id LIMIT %(n)s)"
    " SELECT (SELECT count(*) FROM stale WHERE NOT recent) AS due,"
    " (SELECT count(*) FROM stale WHERE recent) AS waiting,"
    " (SELECT coalesce(array_agg(band_id ORDER BY day DESC, band_id), '{}') FROM first)"
    "   AS bands,"
    " (SELECT coalesce(array_agg(day ORDER BY day DESC, band_id), '{}') FROM first) AS days"
)

# a dirty day whose three summaries are all current is cleared, if its version is still
# the one they were checked against; rows ingest is changing right now are skipped
# (they stay dirty, rightly): the refresher never waits for a row lock, so it never
# deadlocks with ingest
_CLEAR = (
    f"WITH x AS ({_TARGETS}),"
    " ok AS (SELECT k.band_id, k.day, k.version FROM band_days k WHERE k.dirty AND NOT EXISTS"
    "   (SELECT 1 FROM x WHERE NOT x.current AND x.band_id = k.band_id"
    "    AND x.day BETWEEN k.day - 1 AND k.day + 1))"
    " UPDATE band_days d SET dirty = false FROM (SELECT b.band_id, b.day FROM band_days b"
    " JOIN ok ON b.band_id = ok.band_id AND b.day = ok.day AND b.version = ok.version"
    " FOR NO KEY UPDATE OF b SKIP LOCKED) y"
    " WHERE d.band_id = y.band_id AND d.day = y.day"
)

# summaries stored by other code or other fitted parameters are stale too: their days
# are marked once when a refresher starts
_MARK_OTHER_CODE = (
    "UPDATE band_days d SET dirty = true FROM (SELECT b.band_id, b.day FROM band_days b"
    " JOIN day_summaries s ON s.band_id = b.band_id AND s.day = b.day"
    " WHERE s.computed_with <> %s AND NOT b.dirty FOR NO KEY UPDATE OF b SKIP LOCKED) x"
    " WHERE d.band_id = x.band_id AND d.day = x.day"
)


@dataclass
class Round:
    """What one round did."""

    computed: int = 0
    waiting: int = 0  # stale, but recomputed within the debounce interval
    failed: int = 0
    cleared: int = 0
    more: bool = False  # more were due than a round computes


async def mark_other_code(conn: AsyncConnection) -> int:
    """Mark the days whose stored summary another code or fit computed."""
    cur = await conn.execute(_MARK_OTHER_CODE, (COMPUTED_WITH,))
    await conn.commit()
    return cur.rowcount


async def refresh_round(
    conn: AsyncConnection,
    debounce_s: float,
    stop: threading.Event | multiprocessing.synchronize.Event | None = None,
    limit: int = ROUND_MAX,
) -> Round:
    """One round over the dirty days (see the module's docstring). The dirty days are
    sifted in PostgreSQL: a round holds at most ``limit`` of them, however many
    (a migration, a refit or a change of zone can mark a band's whole history)."""
    done = Round()
    params = {"c": COMPUTED_WITH, "debounce": debounce_s, "n": limit}
    row = await fetch_one(conn, _DUE, params)
    await conn.rollback()  # nothing written: end the snapshot before computing
    done.more, done.waiting = row["due"] > limit, row["waiting"]
    for band_id, day in zip(row["bands"], row["days"], strict=True):
        if stop is not None and stop.is_set():
            break
        try:
            await stored_summary(conn, band_id, day)
            await conn.commit()
            done.computed += 1
        except psycopg.OperationalError:
            raise  # the connection is gone: the round ends, the marks stay
        except Exception:  # one day's failure must not stop the others: it stays marked
            await conn.rollback()
            log.warning("summary of %s on %s not refreshed", band_id, day, exc_info=True)
            done.failed += 1
    cur = await conn.execute(_CLEAR, params)
    await conn.commit()
    done.cleared = cur.rowcount
    return done


async def catch_up(conn: AsyncConnection, debounce_s: float = 0.0) -> Round:
    """Rounds until nothing is due (a benchmark's or a test's "the refresher caught up")."""
    total = Round()
    while True:
        r = await refresh_round(conn, debounce_s)
        total.computed += r.computed
        total.failed += r.failed
        total.cleared += r.cleared
        total.waiting = r.waiting
        if not r.more:
            return total


class SummaryRefresher:
    """A round every ``summary_refresh_s`` (at once again while more is due), in a
    process of its own at a lower CPU priority (``nice`` 10): the computation is
    Python and numpy, and in the worker's own process it would take the interpreter
    from the ingest threads (measured: up to half of a worker's throughput while it
    computed without pause); as a process the kernel gives ingest and PostgreSQL the
    CPU first. The process ends with its parent, even one killed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        ctx = multiprocessing.get_context("spawn")  # no copy of the worker's threads
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_serve,
            args=(settings, self._stop, os.getpid(), logging.getLogger().level),
            name="bandhub-summary-refresher",
            daemon=True,
        )

    def start(self) -> None:
        if self.settings.summary_refresh_s > 0:
            self._process.start()

    def stop(self) -> None:
        self._stop.set()
        if self._process.is_alive():
            self._process.join(timeout=15)
        if self._process.is_alive():  # in the middle of a computation: it is redone later
            self._process.terminate()
            self._process.join(timeout=5)


def _serve(settings: Settings, stop, parent: int, level: int) -> None:
    """The refresher process: rounds until told to stop or its parent is gone."""
    from bandhub.logging_setup import setup_logging

    setup_logging(logging.getLevelName(level) if level else None)
    with contextlib.suppress(OSError):
        os.nice(10)
    asyncio.run(_rounds(settings, lambda: stop.is_set() or os.getppid() != parent, stop))


async def _rounds(settings: Settings, stopped, stop) -> None:
    marked = False
    while not stopped():
        more = False
        try:
            async with await AsyncConnection.connect(
                settings.database_url, row_factory=dict_row
            ) as conn:
                if not marked:
                    await mark_other_code(conn)
                    marked = True
                r = await refresh_round(conn, settings.summary_debounce_s, stop)
                more = r.more
            if r.computed or r.failed:
                log.info(
                    "summaries refreshed: %d (%d failed, %d waiting)",
                    r.computed,
                    r.failed,
                    r.waiting,
                )
        except psycopg.Error as exc:
            log.warning("summary refresh skipped this round: %s", exc)
        if not more:
            stop.wait(settings.summary_refresh_s)  # nothing else runs on this loop
