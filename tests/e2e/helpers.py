"""Helpers for end-to-end tests: waiting on real components, counting stored records."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

TABLES = {"heart_rate": "hr_all", "epoch": "epochs", "fall": "falls", "button": "buttons",
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


def spawn_cli(args: list[str], env: dict, log) -> subprocess.Popen:
    """``bandhub ARGS`` in a child process (a band fleet, a gateway), logging to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "stack.cli", *args],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def gateway_env(broker_url: str, hci_port: int, data_dir: Path, page_size: int) -> dict:
    """Environment of a gateway process driving simulated bands on ``hci_port``."""
    return {
        "BANDHUB_MQTT_URL": broker_url,
        "BANDHUB_GATEWAY_BACKEND": f"bumble:tcp-client:127.0.0.1:{hci_port}",
        "BANDHUB_GATEWAY_SET_BAND_CLOCK": "false",
        "BANDHUB_DATA_DIR": str(data_dir),
        "BANDHUB_GATEWAY_PAGE_SIZE": str(page_size),
    }


async def all_stored_exactly_once(
    truth_file: Path, database_url: str, finish_s: float, store_s: float
) -> tuple[dict, dict]:
    """Wait for the simulator's ground truth, then until the database holds exactly the
    records it lists; returns (expected, stored) counts per band and record type."""
    await eventually(truth_file.exists, finish_s, "the bands to finish their records")
    truth = json.loads(truth_file.read_text())
    expected = {band: {k: n for k, n in t["records"].items() if n} for band, t in truth.items()}
    await eventually(
        lambda: stored_counts(database_url) == expected,
        store_s,
        f"every record stored exactly once: {expected}",
    )
    return expected, stored_counts(database_url)


def stop_children(procs: list[subprocess.Popen | None], log) -> None:
    """Terminate child processes that still run and close their shared log. A gateway
    may take its bounded shutdown (8 s for stuck band sessions, 2 s to say "offline"),
    longer on a loaded machine."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    log.close()
