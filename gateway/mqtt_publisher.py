"""MQTT side of the gateway: QoS 1 publishes that can be awaited until the broker acks.

paho runs its network loop in a thread; acks are handed to the asyncio loop as
futures, so a band session can wait for "safely published" before it lets the band
forget records. While the broker is unreachable paho keeps the messages queued and
re-sends them on reconnect; the band keeps its records until then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from bandhub.contracts.messages import GatewayStatus, GeoLocation, Topics
from bandhub.mqtt import broker_address, mqtt_client

log = logging.getLogger(__name__)


class AckingPublisher:
    """Publishes JSON payloads with QoS 1 and resolves a future per message on PUBACK."""

    def __init__(
        self, url: str, gateway_id: str, topics: Topics, location: GeoLocation | None = None
    ) -> None:
        self.topics = topics
        self.location = location
        self.gateway_id = gateway_id
        self._client = mqtt_client(url, f"bandhub-gw-{gateway_id}")
        self._host, self._port = broker_address(url)
        self._lock = threading.Lock()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._acked_early: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = asyncio.Event()
        offline = GatewayStatus(v=1, gateway_id=gateway_id, state="offline")
        self._client.will_set(
            topics.gateway_status(gateway_id), offline.model_dump_json(), qos=1, retain=True
        )
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._dispatch_message
        self._subscriptions: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.bands: list[str] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._host, self._port, keepalive=15)
        self._client.loop_start()

    async def stop(self) -> None:
        """Say "offline" on purpose (the last will covers crashes), then disconnect."""
        if self.connected.is_set():
            info = self._publish_status("offline")
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        self._client.loop_stop()

    def _publish_status(self, state: str) -> mqtt.MQTTMessageInfo:
        status = GatewayStatus(
            v=1,
            gateway_id=self.gateway_id,
            state=state,
            bands=self.bands,
            since=time.time(),
            location=self.location,
        )
        return self._client.publish(
            self.topics.gateway_status(self.gateway_id),
            status.model_dump_json(),
            qos=1,
            retain=True,
        )

    def announce(self) -> None:
        if self.connected.is_set():
            self._publish_status("online")

    def publish(
        self, topic: str, payload: dict | str, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        """Queue one message; the returned future completes when the broker acked it
        (for QoS 0, when paho handed it to the socket, or at once when it was dropped
        because the broker is away)."""
        assert self._loop is not None, "start() first"
        body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        fut: asyncio.Future[None] = self._loop.create_future()
        # paho's callback thread holds paho's own lock while calling _on_publish, which
        # takes ours: publish outside our lock, or the two threads can deadlock.
        info = self._client.publish(topic, body, qos=qos, retain=retain)
        if qos == 0 and info.rc != mqtt.MQTT_ERR_SUCCESS:
            # paho drops QoS 0 while disconnected and never reports it: nothing to wait for
            # (live values are worthless later), and nothing may pile up in _pending
            fut.set_result(None)
            return fut
        with self._lock:
            if info.mid in self._acked_early:
                self._acked_early.discard(info.mid)
                fut.set_result(None)
            else:
                self._pending[info.mid] = fut
        return fut

    def subscribe(self, topic: str, callback: Callable[[str, bytes], None]) -> None:
        """Subscribe now and after every reconnect; callback(topic, payload) on the loop."""
        self._subscriptions.append((topic, callback))
        # Always ask: if not connected yet this is a no-op and _on_connect subscribes.
        self._client.subscribe(topic, qos=1)

    # --- paho thread callbacks ------------------------------------------------------
    def _on_publish(self, _c, _u, mid, _rc, _props) -> None:
        with self._lock:
            fut = self._pending.pop(mid, None)
            if fut is None:
                self._acked_early.add(mid)
                return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_resolve, fut)

    def _on_connect(self, client, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("broker refused connection: %s", reason_code)
            return
        log.info("connected to broker %s:%s", self._host, self._port)
        for topic, _cb in self._subscriptions:
            client.subscribe(topic, qos=1)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.connected.set)
        self._publish_status("online")

    def _on_disconnect(self, _c, _u, _flags, reason_code, _props) -> None:
        log.warning("disconnected from broker: %s", reason_code)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.connected.clear)

    def _dispatch_message(self, _c, _u, msg) -> None:
        for topic, cb in self._subscriptions:
            if mqtt.topic_matches_sub(topic, msg.topic):
                assert self._loop is not None
                self._loop.call_soon_threadsafe(cb, msg.topic, bytes(msg.payload))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
