"""Fall alerts by e-mail, delivered to a real SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import asyncio
from email import message_from_bytes

import numpy as np
import psycopg
import pytest
from aiosmtpd.controller import Controller

from alerts.dispatcher import Dispatcher
from bandhub.contracts.messages import FallRecord, Stream
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter
from stack.ports import free_port
from tests.e2e.helpers import eventually


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server, _session, envelope):
        self.mails.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


async def test_fall_alert_reaches_an_email_contact(settings, owner, smtp):
    port, inbox = smtp
    settings.smtp_port = port
    owner.own(settings.database_url, "BH-0001")
    await owner.client.patch("/bands/BH-0001", json={"name": "Ann"})
    r = await owner.client.post(
        "/bands/BH-0001/contacts",
        json={"name": "Bo", "channel": "email", "email": "bo@example.org"},
    )
    assert r.status_code == 201, r.text
    bad = await owner.client.post(
        "/bands/BH-0001/contacts", json={"name": "Cy", "channel": "email"}
    )
    assert bad.status_code == 422 and "email" in bad.json()["error"]["message"]

    ax, ay, az, pre = fall_window(np.random.default_rng(3))
    rec = FallRecord(seq=1, t=1_795_500_000, fs_hz=50, pre_samples=pre, ax_g=list(ax),
                     ay_g=list(ay), az_g=list(az))  # fmt: skip
    with psycopg.connect(settings.database_url) as conn:
        RecordWriter(conn, auto_register=False, countdown_s=0).write(
            [("t", Parsed("BH-0001", Stream.FALL, 1_795_500_001, [rec], []))]
        )
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(settings).run(stop))
    try:
        await eventually(lambda: len(inbox.mails) == 2, 15, "the notice and the alert")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    notice, (_sender, rcpt, raw) = inbox.mails
    added = message_from_bytes(notice[2])
    assert added["Subject"] == "You are Ann's emergency contact"
    assert (
        "ann@example.com added you" in added.get_payload(decode=True).decode()
        and "/opt-out?sig=" in added.get_payload(decode=True).decode()
    )
    mail = message_from_bytes(raw)
    assert rcpt == ["bo@example.org"]
    assert mail["Subject"] == "FALL ALERT: Ann may need help"
    assert mail["Message-ID"] == "<msg_1_1@bandhub>"
    assert "band_id: BH-0001" in mail.get_payload()
