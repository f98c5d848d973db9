"""What API tests share: a stand-in gateway that hears the commands the server sends."""

from __future__ import annotations

import asyncio

import pytest

from bandhub.mqtt import broker_address, mqtt_client


@pytest.fixture
async def band_commands(broker):
    """A queue of the MQTT messages published on any band's command topic."""
    received: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    subscribed = asyncio.Event()
    gateway = mqtt_client(broker.url, "a-gateway")
    gateway.on_message = lambda _c, _u, m: loop.call_soon_threadsafe(received.put_nowait, m)
    gateway.on_connect = lambda c, *_: c.subscribe("bandhub/v1/band/+/cmd", qos=1)
    gateway.on_subscribe = lambda *_: loop.call_soon_threadsafe(subscribed.set)
    gateway.connect(*broker_address(broker.url))
    gateway.loop_start()
    await asyncio.wait_for(subscribed.wait(), 10)
    yield received
    gateway.loop_stop()
    gateway.disconnect()
