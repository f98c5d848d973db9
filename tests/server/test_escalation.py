"""Escalation over a wearer's contacts, stopped by the first acknowledgement."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg
import pytest

from bandhub.alerts.dispatcher import Dispatcher
from bandhub.contracts.messages import FallRecord, Stream
from bandhub.settings import Settings
from bandhub.webhook_receiver import WebhookReceiver
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter
from tests.e2e.helpers import eventually

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ESCALATION_S = 2.0


@pytest.fixture
async def two_contacts(clean_db):
    """Band BH-0001 with contacts 1 (first) and 2, each a real receiver, and a dispatcher."""
    receivers = [WebhookReceiver(secret=SECRET), WebhookReceiver(secret=SECRET)]
    for r in receivers:
        await r.start()
    with psycopg.connect(clean_db) as conn:
        conn.execute("INSERT INTO bands (band_id, name) VALUES ('BH-0001', 'Ann')")
        for pos, r in enumerate(receivers):
            conn.execute(
                "INSERT INTO contacts (band_id, name, address, secret, position)"
                " VALUES ('BH-0001', %s, %s, %s, %s)",
                (f"contact {pos + 1}", r.url, SECRET, pos),
            )
    stop = asyncio.Event()
    task = asyncio.create_task(
        Dispatcher(Settings(database_url=clean_db, _env_file=None)).run(stop)
    )
    yield receivers
    stop.set()
    await asyncio.wait_for(task, 10)
    for r in receivers:
        await r.stop()


def _fall(url: str) -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(1))
    rec = FallRecord(seq=1, t=1_795_500_000, fs_hz=50, pre_samples=pre, ax_g=list(ax),
                     ay_g=list(ay), az_g=list(az))  # fmt: skip
    with psycopg.connect(url) as conn:
        writer = RecordWriter(conn, auto_register=False, countdown_s=0, escalation_s=ESCALATION_S)
        writer.write([("t", Parsed("BH-0001", Stream.FALL, 1_795_500_001, [rec], []))])


async def test_unacknowledged_alert_escalates_to_the_next_contact(clean_db, two_contacts):
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries and second.deliveries, 15, "both contacts")
    gap = second.deliveries[0].received_at - first.deliveries[0].received_at
    assert gap >= ESCALATION_S - 0.5
    assert all(r.deliveries[0].valid_signature for r in two_contacts)


async def test_contacts_already_alerted_hear_that_someone_is_handling_it(
    clean_db, two_contacts, api
):
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries and second.deliveries, 15, "both contacts")
    r = await api.post("/alerts/1/ack", json={"contact_id": 2})
    assert r.status_code == 200
    await eventually(lambda: len(first.deliveries) == 2, 10, "the handled message")
    handled = first.deliveries[1]
    assert handled.valid_signature and handled.webhook_id == "msg_1_1_handled"
    assert handled.payload["type"] == "alert_handled"
    assert handled.payload["handled_by"] == "contact 2"
    assert len(second.deliveries) == 1  # the one who acknowledged is not told


async def test_first_acknowledgement_stops_escalation(clean_db, two_contacts, api):
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries, 10, "the first contact")
    r = await api.post("/alerts/1/ack", json={"contact_id": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == 1
    assert [d["state"] for d in body["deliveries"]] == ["delivered", "not_needed"]
    await asyncio.sleep(ESCALATION_S + 1.5)
    assert second.deliveries == []
    # a later acknowledgement changes nothing: the first one stands
    assert (await api.post("/alerts/1/ack", json={"contact_id": 2})).json()["acknowledged_by"] == 1

    r = await api.post("/alerts/1/resolve", json={"outcome": "false_alarm"})
    assert r.json()["state"] == "resolved" and r.json()["outcome"] == "false_alarm"
    r = await api.post("/alerts/1/resolve", json={"outcome": "ok"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_resolved"


async def test_acknowledging_requires_a_known_alert_and_contact(clean_db, two_contacts, api):
    assert (await api.post("/alerts/9/ack", json={"contact_id": 1})).status_code == 404
    _fall(clean_db)
    await eventually(lambda: two_contacts[0].deliveries, 10, "the first contact")
    r = await api.post("/alerts/1/ack", json={"contact_id": 77})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_contact"
    r = await api.post("/alerts/1/resolve", json={"outcome": "maybe"})
    assert r.status_code == 422 and "outcome" in r.json()["error"]["message"]
