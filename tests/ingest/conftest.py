"""Fixtures of the ingest tests: a publisher on the test broker, and an ingest worker."""

from __future__ import annotations

import json
import time

import pytest

from bandhub.mqtt import mqtt_client
from ingest.service import Ingest


@pytest.fixture
def publisher(broker):
    client = mqtt_client(broker.url, "test-publisher")  # the operator login: any topic
    client.connect("127.0.0.1", broker.port)
    client.loop_start()

    def publish(topic: str, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, body, qos=1).wait_for_publish(5)

    yield publish
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def ingest(settings):
    svc = Ingest(settings, client_id=f"ingest-test-{time.monotonic_ns()}")
    svc.start()
    assert svc.connected.wait(10)
    yield svc
    svc.stop()
