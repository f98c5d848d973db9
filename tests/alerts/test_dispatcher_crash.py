"""A dispatcher killed (-9) while a webhook is in flight: after a restart the contact
gets the alert again under the same webhook-id, so it is delivered exactly once to a
receiver that deduplicates, and the outbox row ends up delivered."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import psycopg

from stack.webhook_receiver import WebhookReceiver
from tests.alerts.test_escalation import SECRET, _fall
from tests.e2e.helpers import eventually

DISPATCHER = (
    "import asyncio; from alerts.dispatcher import Dispatcher;"
    " from bandhub.settings import Settings;"
    " asyncio.run(Dispatcher(Settings(_env_file=None)).run(asyncio.Event()))"
)


def _start_dispatcher(url: str) -> subprocess.Popen:
    env = os.environ | {"BANDHUB_DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-c", DISPATCHER], env=env)


def _delivery(url: str) -> tuple[str, int]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state, attempts FROM deliveries").fetchone()


async def test_dispatcher_killed_mid_send_delivers_once_after_restart(clean_db):
    hold = asyncio.Event()
    receiver = WebhookReceiver(secret=SECRET, hold=hold)
    await receiver.start()
    with psycopg.connect(clean_db) as conn:
        conn.execute("INSERT INTO bands (band_id, name) VALUES ('BH-0001', 'Ann')")
        conn.execute(
            "INSERT INTO contacts (band_id, name, address, secret)"
            " VALUES ('BH-0001', 'Bo', %s, %s)",
            (receiver.url, SECRET),
        )
    _fall(clean_db)
    first = _start_dispatcher(clean_db)
    second = None
    try:
        await eventually(lambda: receiver.deliveries, 20, "the request in flight")
        first.send_signal(signal.SIGKILL)  # mid-send: the request is out, no reply yet
        first.wait(10)
        assert _delivery(clean_db) == ("pending", 0)  # the claim rolled back with the process
        hold.set()
        second = _start_dispatcher(clean_db)
        await eventually(lambda: _delivery(clean_db)[0] == "delivered", 20, "the redelivery")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        await receiver.stop()
    ids = [d.webhook_id for d in receiver.deliveries]
    assert ids == ["msg_1_1", "msg_1_1"]  # sent twice, one id: the receiver keeps one
    assert all(d.valid_signature for d in receiver.deliveries)
    assert _delivery(clean_db) == ("delivered", 1)
