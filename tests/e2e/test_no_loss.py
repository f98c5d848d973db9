"""Nothing lost, nothing doubled: the gateway is killed (-9) mid-day and restarted,
and the broker is restarted, while bands in another process keep making records."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from stack.ports import free_port, wait_port
from stack.services import SystemServices
from tests.e2e.helpers import (
    all_stored_exactly_once,
    eventually,
    gateway_env,
    spawn_cli,
    stop_children,
    stored_counts,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_gateway_kill_and_broker_restart_lose_and_double_nothing(settings, broker, tmp_path):
    hci = free_port()
    truth_file = tmp_path / "truth.json"
    log = open(tmp_path / "processes.log", "w")  # noqa: SIM115 - shared by the children
    sim = spawn_cli(
        ["sim", "--bands", "2", "--hci", f"tcp-server:127.0.0.1:{hci}", "--speed", "300",
         "--start", "2026-11-23T14:00:00+00:00", "--days", str(3 / 24), "--fall-at", "15:00",
         "--truth-file", str(truth_file)],
        {}, log,
    )  # fmt: skip
    # its login comes from the credentials file `enroll_gateway` writes (no login here)
    gw_env = gateway_env(broker.anonymous_url, hci, tmp_path / "gw", page_size=50)
    gateway = None
    try:
        await wait_port(hci)
        settings.gateway_auth = True
        async with SystemServices(settings, broker) as system:
            await system.start_pipeline(gateway_backend=None)
            system.enroll_gateway("gw-local", ["BH-0001", "BH-0002"], data_dir=tmp_path / "gw")
            gateway = spawn_cli(["gateway", "run"], gw_env, log)
            await eventually(lambda: stored_counts(settings.database_url), 30, "first records")

            os.kill(gateway.pid, signal.SIGKILL)  # mid-transfer, no goodbye
            gateway.wait()
            before = stored_counts(settings.database_url)
            await asyncio.sleep(3)  # the bands keep making records meanwhile
            gateway = spawn_cli(["gateway", "run"], gw_env, log)
            await asyncio.sleep(6)

            await broker.restart(down_for_s=3)  # gateway spools in paho, ingest reconnects

            expected, counts = await all_stored_exactly_once(
                truth_file, settings.database_url, finish_s=90, store_s=60
            )
            print(f"\nstored before the kill: {before}\nstored at the end: {counts}")
            assert sum(expected["BH-0001"].values()) > 1500
    finally:
        stop_children([gateway, sim], log)
