"""Drain the persistent MQTT session of an ingest worker that is gone.

The broker keeps a stopped worker's session: its in-flight messages (unacknowledged,
sent again on reconnect) and its share of what arrived since. We connect with that
client id (clean session off), unsubscribe it at once so the broker stops giving it
a share, hand every message to our own writer, and disconnect once everything has
been acknowledged after commit and nothing has come for ``idle_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from bandhub.mqtt import broker_address, mqtt_client

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """One message for the writer, and how to acknowledge it after the commit."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    client: mqtt.Client
    adopted: bool = False
    on_acked: Callable[[], None] | None = None

    def ack(self) -> None:
        if self.qos > 0:
            self.client.ack(self.mid, self.qos)
        if self.on_acked is not None:
            self.on_acked()


class _Drain:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.acked = 0
        self.last = time.monotonic()
        self.unsubscribed = threading.Event()
        self.refused = threading.Event()

    def got(self) -> None:
        with self.lock:
            self.received += 1
            self.last = time.monotonic()

    def done(self) -> None:
        with self.lock:
            self.acked += 1
            self.last = time.monotonic()

    def settled(self, idle_s: float) -> bool:
        with self.lock:
            quiet = time.monotonic() - self.last >= idle_s
            return self.unsubscribed.is_set() and self.acked == self.received and quiet


def drain_session(
    mqtt_url: str,
    client_id: str,
    filters: list[str],
    deliver: Callable[[Delivery], None],
    *,
    idle_s: float = 1.0,
    timeout_s: float = 120.0,
) -> int | None:
    """Drain ``client_id``'s session through ``deliver``; returns the messages drained,
    or None when it could not finish (the slot stays undrained and is tried again)."""
    state = _Drain()
    client = mqtt_client(mqtt_url, client_id, clean_start=False)
    client.manual_ack_set(True)

    def on_connect(c, _u, flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("broker refused adopting %s: %s", client_id, reason_code)
            state.refused.set()
            return
        c.unsubscribe(filters)

    def on_unsubscribe(_c, _u, _mid, _rcs, _props) -> None:
        with state.lock:
            state.last = time.monotonic()
        state.unsubscribed.set()

    def on_message(_c, _u, msg: mqtt.MQTTMessage) -> None:
        state.got()
        deliver(Delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos, client, True, state.done))

    client.on_connect = on_connect
    client.on_unsubscribe = on_unsubscribe
    client.on_message = on_message
    host, port = broker_address(mqtt_url)
    started = time.monotonic()
    client.connect_async(host, port, keepalive=15)
    client.loop_start()
    try:
        while not state.settled(idle_s):
            if state.refused.is_set() or time.monotonic() - started > timeout_s:
                log.warning("gave up draining %s (%d messages so far)", client_id, state.acked)
                return None
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    log.info(
        "drained the session of %s: %d messages in %.1f s",
        client_id,
        state.acked,
        time.monotonic() - started,
    )
    return state.acked
