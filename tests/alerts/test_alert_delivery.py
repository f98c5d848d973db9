"""A confirmed fall becomes a signed webhook at a real receiver, retried until delivered."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg

from alerts.dispatcher import Dispatcher
from bandhub.contracts.messages import FallRecord, Stream
from bandhub.settings import Settings
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter
from stack.webhook_receiver import WebhookReceiver
from tests.e2e.helpers import eventually

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = 1_795_500_000


def _store_fall(url: str, receiver_url: str, *, still_after: bool = True) -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(1))
    if not still_after:  # a knock against a door frame while walking, and walking on
        rng = np.random.default_rng(3)
        t = np.arange(len(ax)) / 50
        ax, ay = 0.05 * rng.normal(size=t.size), 0.05 * rng.normal(size=t.size)
        az = 1 + 0.25 * np.sin(2 * np.pi * 1.8 * t) + 0.05 * rng.normal(size=t.size)
        ax[pre : pre + 4] += 3.5
        ay[pre : pre + 4] += 1.5
        az[pre : pre + 4] += 2.0
    rec = FallRecord(seq=7, t=T0, fs_hz=50, pre_samples=pre, ax_g=list(ax), ay_g=list(ay),
                     az_g=list(az))  # fmt: skip
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO bands (band_id, name) VALUES ('BH-0001', 'Ann')")
        conn.execute(
            "INSERT INTO contacts (band_id, name, address, secret)"
            " VALUES ('BH-0001', 'Bo', %s, %s)",
            (receiver_url, SECRET),
        )
        conn.commit()
        writer = RecordWriter(conn, auto_register=False, countdown_s=0)
        writer.write([("t", Parsed("BH-0001", Stream.FALL, T0 + 1, [rec], []))])


async def test_fall_is_delivered_signed_and_a_down_receiver_gets_it_once_back_up(clean_db):
    receiver = WebhookReceiver(secret=SECRET, fail_with=503)
    await receiver.start()
    try:
        _store_fall(clean_db, receiver.url)
        stop = asyncio.Event()
        task = asyncio.create_task(
            Dispatcher(Settings(database_url=clean_db, _env_file=None)).run(stop)
        )

        def attempts() -> int:
            with psycopg.connect(clean_db) as conn:
                return conn.execute("SELECT attempts FROM deliveries").fetchone()[0]

        await eventually(lambda: attempts() >= 2, 10, "two failed attempts")
        receiver.fail_with = None  # the receiver comes back
        await eventually(lambda: receiver.deliveries, 15, "the retried delivery")
        await asyncio.sleep(2.5)  # nothing more may arrive
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        await receiver.stop()
    [delivery] = receiver.deliveries
    assert delivery.valid_signature
    assert delivery.webhook_id == "msg_1_1"  # stable across retries, receivers dedupe on it
    assert delivery.payload["kind"] == "fall" and delivery.payload["wearer"] == "Ann"
    with psycopg.connect(clean_db) as conn:
        state, n, err = conn.execute(
            "SELECT state, attempts, last_error FROM deliveries"
        ).fetchone()
        confirmed = conn.execute("SELECT confirmed FROM falls").fetchone()[0]
    assert (state, err, confirmed) == ("delivered", None, True)
    assert n >= 3


async def test_an_impact_without_a_fall_pattern_alerts_nobody(clean_db):
    receiver = WebhookReceiver(secret=SECRET)
    await receiver.start()
    try:
        _store_fall(clean_db, receiver.url, still_after=False)
        with psycopg.connect(clean_db) as conn:
            confirmed, confidence = conn.execute(
                "SELECT confirmed, confidence FROM falls"
            ).fetchone()
            alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    finally:
        await receiver.stop()
    assert confirmed is False and 0 <= confidence < 1
    assert alerts == 0
