"""A record batch the broker took while nobody was subscribed (no ingest worker yet, or
a broker restart that forgot the workers' shared subscriptions) stays in the gateway's
spool and goes out again once a worker subscribes: mosquitto says so in its MQTT 5
PUBACK. On amqtt, which does not speak MQTT 5, the gateway is set to 3.1.1 (as the
embedded stack does) and the records flow. Real brokers, the real publisher and spool."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from bandhub.contracts.messages import Topics
from gateway.mqtt_publisher import AckingPublisher
from gateway.spool_drain import SpoolDrain
from gateway.state import GatewayState
from stack.embedded.broker import EmbeddedBroker
from tests.e2e.helpers import eventually
from tests.principals.mqtt_probe import Client

TOPICS = Topics()


def _spooled(tmp_path: Path, batches: int) -> tuple[GatewayState, list[str]]:
    state = GatewayState(tmp_path / "gateway.sqlite")
    topic = TOPICS.records("BH-0001", "hr")
    state.spool([(1, topic, json.dumps({"n": n})) for n in range(batches)])
    return state, [topic] * batches


@contextlib.asynccontextmanager
async def _draining(url: str, state: GatewayState, mqtt5: bool = True):
    publisher = AckingPublisher(url, "gw-local", TOPICS, mqtt5=mqtt5)
    await publisher.start()
    drain = asyncio.create_task(SpoolDrain(state, publisher.publish).run())
    try:
        yield publisher
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        await publisher.stop()


async def test_batches_nobody_took_stay_spooled_until_a_worker_subscribes(settings, tmp_path):
    state, record_topics = _spooled(tmp_path, 5)
    state.spool([(2, TOPICS.rejected("BH-0001"), '{"reason": "kept for inspection"}')])
    async with _draining(settings.mqtt_url, state) as publisher:
        # the rejected report needs only the broker; record batches need a subscriber
        await eventually(
            lambda: [e.topic for e in state.spool_next(10)] == record_topics,
            10,
            "the rejected report sent, the records held",
        )
        assert publisher.mqtt5
        await asyncio.sleep(2)  # sent again meanwhile: still nobody, still held
        assert len(state.spool_next(10)) == 5

        worker = Client(settings.mqtt_url, "bandhub-ingest-0")
        await asyncio.to_thread(worker.start, f"$share/ingest/{TOPICS.records_filter()}")
        try:
            await eventually(lambda: not state.spool_next(10), 15, "the spool drained")
            await eventually(lambda: len(worker.got) >= 5, 5, "the batches at the worker")
            assert sorted(json.loads(body)["n"] for _, body in worker.got) == list(range(5))
        finally:
            worker.stop()


async def test_on_amqtt_the_gateway_publishes_with_311(tmp_path):
    broker = EmbeddedBroker(tmp_path / "amqtt", kind="amqtt")
    await broker.start()
    try:
        worker = Client(broker.url, "bandhub-ingest-0")
        await asyncio.to_thread(worker.start, TOPICS.records_filter())
        state, _ = _spooled(tmp_path, 3)
        async with _draining(broker.url, state, mqtt5=False):
            await eventually(lambda: not state.spool_next(10), 20, "the spool drained")
        await eventually(lambda: len(worker.got) >= 3, 5, "the batches at the worker")
        assert sorted(json.loads(body)["n"] for _, body in worker.got) == [0, 1, 2]
        worker.stop()
    finally:
        await broker.stop()
