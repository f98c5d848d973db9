"""Helpers for end-to-end tests: waiting on real components, counting stored records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import psycopg

TABLES = {"heart_rate": "hr", "epoch": "epochs", "fall": "falls", "button": "buttons",
          "battery": "battery"}  # fmt: skip


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float, what: str):
    """Poll ``check`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.5)


def stored_counts(database_url: str) -> dict[str, dict[str, int]]:
    """{band_id: {record type name: rows}} as the bands' ``produced()`` names them."""
    out: dict[str, dict[str, int]] = {}
    with psycopg.connect(database_url) as conn:
        for name, table in TABLES.items():
            for band_id, n in conn.execute(
                f"SELECT band_id, count(*) FROM {table} GROUP BY band_id"
            ).fetchall():
                out.setdefault(band_id, {})[name] = n
    return out


def produced_counts(bands) -> dict[str, dict[str, int]]:
    return {
        b.config.serial: {t.name.lower(): n for t, n in b.produced().items() if n} for b in bands
    }
