"""The companion app's live view: alert events over Server-Sent Events."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import psycopg

from bandhub.contracts.messages import FallRecord, Stream
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter


def _fall(url: str, band_id: str, seq: int) -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(seq))
    rec = FallRecord(seq=seq, t=1_795_500_000 + seq, fs_hz=50, pre_samples=pre, ax_g=list(ax),
                     ay_g=list(ay), az_g=list(az))  # fmt: skip
    with psycopg.connect(url) as conn:
        RecordWriter(conn, auto_register=True, countdown_s=30).write(
            [("t", Parsed(band_id, Stream.FALL, 1_795_500_100, [rec], []))]
        )


async def test_new_and_changed_alerts_stream_to_the_app_and_only_the_callers(settings, owner):
    """Ann's stream carries her band's alerts, never another wearer's."""
    owner.own(settings.database_url, "BH-0001")
    events: list[dict] = []

    async def listen() -> None:
        async with owner.client.stream("GET", "/alerts/stream") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            async for line in resp.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 2:
                        return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.5)  # the stream is listening
    _fall(settings.database_url, "BH-0002", 1)  # another wearer's: not Ann's to see
    _fall(settings.database_url, "BH-0001", 2)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE alerts SET state = 'cancelled_by_wearer' WHERE band_id = 'BH-0001'")
    await asyncio.wait_for(task, 10)
    assert [(e["band_id"], e["kind"], e["state"]) for e in events] == [
        ("BH-0001", "fall", "pending"),
        ("BH-0001", "fall", "cancelled_by_wearer"),
    ]


async def test_the_stream_needs_a_signed_in_caller(api):
    r = await api.get("/alerts/stream")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
