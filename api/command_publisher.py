"""Commands from the app to a band, published by the server over MQTT (the app never
holds broker credentials), and the erasure of a band's retained status. One paho
connection per API process, opened on first use."""

from __future__ import annotations

import asyncio
import threading
import uuid

import paho.mqtt.client as mqtt

from api.errors import ApiError
from bandhub.contracts.messages import CommandRequest, Topics
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.settings import Settings


class CommandPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt_topic_prefix)
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connected(self) -> mqtt.Client:
        with self._lock:
            if self._client is None:
                if not self.settings.mqtt_url:
                    raise ApiError(503, "no_broker", "this server has no MQTT broker configured")
                client = mqtt_client(self.settings.mqtt_url, f"bandhub-api-{uuid.uuid4().hex[:12]}")
                try:
                    client.connect(*broker_address(self.settings.mqtt_url))
                except OSError as exc:
                    raise ApiError(503, "broker_unreachable", f"the broker is away: {exc}") from exc
                client.loop_start()
                self._client = client
            return self._client

    def _publish(self, band_id: str, request: CommandRequest) -> None:
        info = self._connected().publish(
            self.topics.command(band_id), request.model_dump_json(), qos=1
        )
        info.wait_for_publish(timeout=5)
        if not info.is_published():
            raise ApiError(503, "broker_unreachable", "the broker did not take the command")

    async def publish(self, band_id: str, request: CommandRequest) -> None:
        await asyncio.to_thread(self._publish, band_id, request)

    def _clear(self, topic: str) -> None:
        info = self._connected().publish(topic, b"", qos=1, retain=True)
        info.wait_for_publish(timeout=5)

    async def clear_retained(self, topic: str) -> None:
        """An empty retained message: the broker forgets what it kept on ``topic``."""
        await asyncio.to_thread(self._clear, topic)

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
