"""Escalation over a wearer's contacts, stopped by the first acknowledgement."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import numpy as np
import psycopg
import pytest

from alerts.dispatcher import Dispatcher
from bandhub.contracts.messages import ButtonRecord, FallRecord, Stream
from bandhub.settings import Settings
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter
from stack.webhook_receiver import WebhookReceiver
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


def _went_out(url: str) -> float:
    """When the (only) alert was dispatched, as a Unix time."""
    with psycopg.connect(url) as conn:
        (t,) = conn.execute("SELECT extract(epoch FROM dispatch_at) FROM alerts").fetchone()
    return float(t)


def _fall(url: str, repeat_s: float = 300.0) -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(1))
    rec = FallRecord(seq=1, t=1_795_500_000, fs_hz=50, pre_samples=pre, ax_g=list(ax),
                     ay_g=list(ay), az_g=list(az))  # fmt: skip
    with psycopg.connect(url) as conn:
        writer = RecordWriter(
            conn, auto_register=False, countdown_s=0, escalation_s=ESCALATION_S, repeat_s=repeat_s
        )
        writer.write([("t", Parsed("BH-0001", Stream.FALL, 1_795_500_001, [rec], []))])


async def test_unacknowledged_alert_escalates_to_the_next_contact(clean_db, two_contacts):
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries and second.deliveries, 15, "both contacts")
    # measured from when the alert went out (a busy machine may deliver the first late)
    assert second.deliveries[0].received_at - _went_out(clean_db) >= ESCALATION_S - 0.5
    assert all(r.deliveries[0].valid_signature for r in two_contacts)


def _button(url: str, seq: int, press: str, countdown_s: float = 30.0) -> None:
    rec = ButtonRecord(seq=seq, t=1_795_500_000 + seq, press=press)
    with psycopg.connect(url) as conn:
        writer = RecordWriter(
            conn, auto_register=False, countdown_s=countdown_s, escalation_s=ESCALATION_S
        )
        writer.write([("t", Parsed("BH-0001", Stream.BUTTON, 1_795_500_100, [rec], []))])


async def test_the_help_button_alerts_at_once_and_escalates_like_a_fall(
    clean_db, two_contacts, owner
):
    owner.own(clean_db, "BH-0001")
    first, second = two_contacts
    _button(clean_db, seq=7, press="help")  # a 30 s fall countdown does not apply to SOS
    await eventually(lambda: first.deliveries, 5, "the first contact, without a countdown")
    sos = first.deliveries[0]
    assert sos.valid_signature and sos.payload["kind"] == "sos"
    assert sos.payload["ack_url"], "an SOS carries the one-click acknowledgement link"
    _button(clean_db, seq=7, press="help")  # the same press again (urgent + log): one alert
    _button(clean_db, seq=8, press="im_ok")  # "I'm OK" does not cancel a call for help
    await eventually(lambda: second.deliveries, 15, "the escalation to contact 2")
    assert second.deliveries[0].received_at - _went_out(clean_db) >= ESCALATION_S - 0.5
    alerts = (await owner.client.get("/alerts")).json()
    assert [(a["kind"], a["state"]) for a in alerts] == [("sos", "dispatched")]


async def test_contacts_already_alerted_hear_that_someone_is_handling_it(
    clean_db, two_contacts, owner
):
    owner.own(clean_db, "BH-0001")
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries and second.deliveries, 15, "both contacts")
    r = await owner.client.post("/alerts/1/ack", json={"contact_id": 2})
    assert r.status_code == 200
    await eventually(lambda: len(first.deliveries) == 2, 10, "the handled message")
    handled = first.deliveries[1]
    assert handled.valid_signature and handled.webhook_id == "msg_1_1_handled"
    assert handled.payload["type"] == "alert_handled"
    assert handled.payload["handled_by"] == "contact 2"
    assert len(second.deliveries) == 1  # the one who acknowledged is not told


async def test_first_acknowledgement_stops_escalation(clean_db, two_contacts, owner):
    owner.own(clean_db, "BH-0001")
    first, second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries, 10, "the first contact")
    r = await owner.client.post("/alerts/1/ack", json={"contact_id": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == 1
    assert [d["state"] for d in body["deliveries"]] == ["delivered", "not_needed"]
    await asyncio.sleep(ESCALATION_S + 1.5)
    assert second.deliveries == []
    # a later acknowledgement changes nothing: the first one stands
    assert (await owner.client.post("/alerts/1/ack", json={"contact_id": 2})).json()[
        "acknowledged_by"
    ] == 1

    r = await owner.client.post("/alerts/1/resolve", json={"outcome": "false_alarm"})
    assert r.json()["state"] == "resolved" and r.json()["outcome"] == "false_alarm"
    r = await owner.client.post("/alerts/1/resolve", json={"outcome": "ok"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_resolved"


async def test_acknowledging_requires_a_known_alert_and_contact(clean_db, two_contacts, owner):
    owner.own(clean_db, "BH-0001")
    assert (await owner.client.post("/alerts/9/ack", json={"contact_id": 1})).status_code == 404
    _fall(clean_db)
    await eventually(lambda: two_contacts[0].deliveries, 10, "the first contact")
    r = await owner.client.post("/alerts/1/ack", json={"contact_id": 77})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_contact"
    r = await owner.client.post("/alerts/1/resolve", json={"outcome": "maybe"})
    assert r.status_code == 422 and "outcome" in r.json()["error"]["message"]


async def test_unacknowledged_alert_repeats_to_everyone_until_acknowledged(
    clean_db, two_contacts, owner
):
    owner.own(clean_db, "BH-0001")
    first, second = two_contacts
    _fall(clean_db, repeat_s=1.0)  # all again 1 s after the last contact was alerted
    await eventually(lambda: len(first.deliveries) == 2, 15, "the first repeat")
    await eventually(lambda: len(second.deliveries) == 2, 5, "the repeat to contact 2")
    repeat = first.deliveries[1]
    assert repeat.payload["repeat"] is True and repeat.webhook_id == "msg_1_1_r1"
    assert repeat.valid_signature
    r = await owner.client.post("/alerts/1/ack", json={"contact_id": 2})
    assert r.status_code == 200
    await eventually(lambda: len(first.deliveries) == 3, 10, "the handled message")
    assert first.deliveries[2].payload["type"] == "alert_handled"
    events = [e["event"] for e in (await owner.client.get("/alerts/1")).json()["timeline"]]
    assert (
        events[0] == "opened" and "repeat" in events and events[-1] in ("acknowledged", "delivery")
    )
    assert events.count("delivery") >= 4


async def test_the_link_acknowledges_when_posted_not_when_opened_and_forged_fails(
    clean_db, two_contacts, owner
):
    owner.own(clean_db, "BH-0001")
    first, _second = two_contacts
    _fall(clean_db)
    await eventually(lambda: first.deliveries, 10, "the first contact")
    link = httpx.URL(first.deliveries[0].payload["ack_url"])
    assert link.path == "/alerts/1/ack-link" and link.params["contact"] == "1"
    forged = await owner.client.get(link.path, params={"contact": "2", "sig": link.params["sig"]})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_signature"
    shown = await owner.client.get(link.path, params=dict(link.params))  # e.g. a mail scanner
    assert shown.status_code == 200 and shown.json()["state"] == "dispatched"
    assert (await owner.client.get("/alerts/1")).json()["acknowledged_by"] is None
    r = await owner.client.post(link.path, params=dict(link.params))
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    alert = (await owner.client.get("/alerts/1")).json()
    assert alert["acknowledged_by"] == 1


async def test_each_wearer_has_their_own_countdown(clean_db, two_contacts, owner):
    owner.own(clean_db, "BH-0001")
    r = await owner.client.patch("/bands/BH-0001", json={"fall_countdown_s": 3})
    assert r.status_code == 200 and r.json()["fall_countdown_s"] == 3
    assert (
        await owner.client.patch("/bands/BH-0001", json={"fall_countdown_s": -1})
    ).status_code == 422
    assert (
        await owner.client.patch("/bands/BH-9", json={"fall_countdown_s": 5})
    ).status_code == 404
    _fall(clean_db)  # the server default (countdown_s=0) would alert at once
    alert = (await owner.client.get("/alerts/1")).json()
    opened = dt.datetime.fromisoformat(alert["created_at"])
    assert 2.5 <= (dt.datetime.fromisoformat(alert["dispatch_at"]) - opened).total_seconds() <= 3.5
    await asyncio.sleep(1.5)
    assert two_contacts[0].deliveries == []  # still counting down
    await eventually(lambda: two_contacts[0].deliveries, 10, "the alert after 3 s")
