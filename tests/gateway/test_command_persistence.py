"""Commands for an absent band survive a gateway restart (real gateway, broker, bumble):
they are delivered when the band comes, or answered `expired` when their time is up."""

from __future__ import annotations

import asyncio

import pytest
from bumble.link import LocalLink

from bandhub.contracts.messages import Topics
from gateway.backend import local_link_backend
from gateway.mqtt_publisher import AckingPublisher
from gateway.service import Gateway
from tests.e2e.helpers import eventually
from tests.gateway.conformance.band import ConformanceBand
from tests.gateway.test_gateway_behaviour import Listener

pytestmark = [pytest.mark.e2e]


async def _run_gateway(settings, link: LocalLink) -> tuple[Gateway, asyncio.Event, asyncio.Task]:
    gateway = Gateway(settings, await local_link_backend(link), None)
    gateway.publisher = AckingPublisher(settings.mqtt_url, "gw-local", Topics())
    await gateway.publisher.start()
    stop = asyncio.Event()
    return gateway, stop, asyncio.create_task(gateway.run(stop))


async def _stop(gateway: Gateway, stop: asyncio.Event, task: asyncio.Task) -> None:
    stop.set()
    await asyncio.wait_for(task, 20)
    await gateway.publisher.stop()


async def test_waiting_commands_survive_a_gateway_restart(settings, broker):
    link = LocalLink()
    listener = Listener(broker)
    topics = Topics()
    band = None
    gateway, stop, task = await _run_gateway(settings, link)
    try:
        await eventually(lambda: listener.on("/gw/gw-local/status"), 20, "the gateway online")
        listener.send(topics.command("ACME-001"),
                      {"v": 1, "id": "short", "cmd": "find_band", "ttl_s": 4})  # fmt: skip
        listener.send(topics.command("ACME-001"),
                      {"v": 1, "id": "long", "cmd": "find_band", "ttl_s": 300})  # fmt: skip
        await eventually(lambda: len(gateway.commands.waiting.get("ACME-001", [])) == 2, 10,
                         "both commands waiting")  # fmt: skip
        await _stop(gateway, stop, task)
        assert not listener.on("/cmd/result")  # nothing answered before the restart

        gateway, stop, task = await _run_gateway(settings, link)
        await eventually(lambda: listener.on("/cmd/result"), 20, "the short one expired")
        band = ConformanceBand(link, "ACME-001", "E0:00:00:00:00:01")
        await band.start()
        await eventually(lambda: len(listener.on("/cmd/result")) == 2, 30, "the long one run")
        results = {r["id"]: r["status"] for r in listener.on("/cmd/result")}
        assert results == {"short": "expired", "long": "ok"}
        assert "command 0x01" in band.events  # FIND_BAND reached the band
        await asyncio.sleep(1.5)  # a few more expiry rounds: nothing is answered twice
        assert len(listener.on("/cmd/result")) == 2
        assert gateway.state.pending_commands() == []
    finally:
        await _stop(gateway, stop, task)
        if band is not None:
            await band.close()
        listener.close()
