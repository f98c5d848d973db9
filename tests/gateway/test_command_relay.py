"""The command relay without a radio or broker: every command ends in one result,
commands wait for an absent band until their time to live runs out."""

from __future__ import annotations

import asyncio
import json

from bandhub.contracts.messages import Topics
from gateway.command_relay import CommandRelay
from gateway.session import DeviceSession
from tests.gateway.fakes import Clock, FakePublisher, FakeSession

TOPICS = Topics()


def relay_with(*sessions: FakeSession) -> tuple[CommandRelay, FakePublisher, Clock, dict]:
    publisher, clock = FakePublisher(), Clock()
    connected: dict[str, DeviceSession] = {s.band_id: s for s in sessions}
    relay = CommandRelay(TOPICS, publisher.publish, connected.get, clock=clock)
    return relay, publisher, clock, connected


def send(relay: CommandRelay, band_id: str, **command) -> None:
    payload = {"v": 1, "cmd": "vibrate"} | command
    relay.on_message(TOPICS.command(band_id), json.dumps(payload).encode())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_command_for_a_connected_band_runs_and_reports_its_result():
    band = FakeSession("BH-0001", answer=lambda req: ("failed", "motor stuck"))
    relay, publisher, _clock, _ = relay_with(band)
    send(relay, "BH-0001", id="c-1")
    await settle()
    assert band.commands == ["c-1"]
    [(topic, result)] = publisher.sent
    assert topic == "bandhub/v1/band/BH-0001/cmd/result"
    assert result == {"v": 1, "id": "c-1", "band_id": "BH-0001", "status": "failed",
                      "detail": "motor stuck"}  # fmt: skip


async def test_a_command_waits_for_an_absent_band_and_runs_when_it_connects():
    relay, publisher, clock, connected = relay_with()
    send(relay, "BH-0002", id="c-1")
    send(relay, "BH-0002", id="c-2", cmd="find_band")
    clock.now += 60
    relay.expire()
    assert publisher.sent == []  # still within the default 300 s
    band = FakeSession("BH-0002")
    connected[band.band_id] = band
    await relay.deliver_waiting(band)
    assert band.commands == ["c-1", "c-2"]  # in arrival order
    assert [(r["id"], r["status"]) for r in publisher.on("/cmd/result")] == [
        ("c-1", "ok"), ("c-2", "ok")
    ]  # fmt: skip
    await relay.deliver_waiting(band)  # a reconnect does not run them again
    assert band.commands == ["c-1", "c-2"]


async def test_a_command_for_a_band_that_never_comes_expires_after_its_ttl():
    relay, publisher, clock, _ = relay_with()
    send(relay, "BH-0003", id="short", ttl_s=10)
    send(relay, "BH-0003", id="long", ttl_s=100)
    clock.now += 11
    relay.expire()
    assert [(r["id"], r["status"], r["detail"]) for r in publisher.on("/cmd/result")] == [
        ("short", "expired", "band not reached")
    ]
    relay.expire()  # answered once only
    assert len(publisher.sent) == 1
    band = FakeSession("BH-0003")
    await relay.deliver_waiting(band)
    assert band.commands == ["long"]


async def test_the_ttl_counts_from_issued_at_when_the_sender_gives_it():
    relay, publisher, clock, _ = relay_with()
    send(relay, "BH-0004", id="old", ttl_s=30, issued_at=clock.now - 40)
    band = FakeSession("BH-0004")
    await relay.deliver_waiting(band)
    assert band.commands == []  # too late: the band never sees it
    [result] = publisher.on("/cmd/result")
    assert (result["id"], result["status"]) == ("old", "expired")
    assert result["detail"] == "time to live passed"


async def test_an_unknown_or_malformed_command_is_refused_with_a_result():
    band = FakeSession("BH-0005")
    relay, publisher, _clock, _ = relay_with(band)
    send(relay, "BH-0005", id="bad-1", cmd="explode")
    relay.on_message(TOPICS.command("BH-0005"), b"{not json")
    send(relay, "BH-0005", id="")
    await settle()
    assert band.commands == []
    results = publisher.on("/cmd/result")
    assert [(r["id"], r["status"]) for r in results] == [("?", "invalid")] * 3
    assert results[0]["detail"].startswith("cmd:")
    assert results[2]["detail"].startswith("id:")


async def test_a_command_that_raises_on_the_band_is_reported_as_failed():
    def broken(_req):
        raise TimeoutError("no indication")

    band = FakeSession("BH-0006", answer=broken)
    relay, publisher, _clock, _ = relay_with(band)
    send(relay, "BH-0006", id="c-1")
    await settle()
    [result] = publisher.on("/cmd/result")
    assert (result["status"], result["detail"]) == ("failed", "TimeoutError: no indication")
