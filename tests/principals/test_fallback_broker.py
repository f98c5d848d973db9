"""The embedded broker without dynamic security (amqtt, when mosquitto is missing):
it says plainly that it enforces no logins or ACLs, and gateways still learn their
bands, so they sync only those and ingest's check still holds."""

from __future__ import annotations

import asyncio
import logging

from bandhub.contracts.messages import GatewayBindings, Topics
from stack.embedded.broker import EmbeddedBroker
from stack.services import SystemServices
from tests.e2e.helpers import eventually
from tests.principals.mqtt_probe import Client


async def test_the_amqtt_fallback_warns_and_still_publishes_bindings(settings, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    broker = EmbeddedBroker(tmp_path / "amqtt", kind="amqtt")
    await broker.start()
    try:
        assert not broker.enforces_acls
        assert "no per-gateway logins and no ACLs are enforced" in caplog.text
        assert broker.url == broker.anonymous_url  # nothing to log in with
        settings.gateway_auth = True
        async with SystemServices(settings, broker) as system:
            await system.start_pipeline(gateway_backend=None)
            # blocking, and amqtt answers on this event loop: from a thread
            await asyncio.to_thread(system.enroll_gateway, "gw-a", ["BH-0001"], tmp_path / "gw")
            probe = Client(broker.url, "probe")
            await asyncio.to_thread(probe.start, Topics().gateway_bindings("gw-a"))
            try:
                await eventually(lambda: probe.got, 10, "the retained bindings")
                bindings = GatewayBindings.model_validate_json(probe.got[-1][1])
                assert bindings.bands == ["BH-0001"]
            finally:
                probe.stop()
    finally:
        await broker.stop()
