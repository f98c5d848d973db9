"""A real MQTT connection for tests that records what it receives and its link events."""

from __future__ import annotations

import json
import threading

from bandhub.mqtt import broker_address, mqtt_client


class Client:
    """A real MQTT connection that records what it receives and its link events."""

    def __init__(self, url: str, client_id: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.url = url
        self.mqtt = mqtt_client(url, client_id)
        self.mqtt.reconnect_delay_set(60, 60)  # a test reconnects by hand
        self.mqtt.on_message = lambda _c, _u, m: self.got.append((m.topic, bytes(m.payload)))
        self.mqtt.on_connect = lambda _c, _u, _f, rc, _p: self.events.append(f"connect {rc}")
        self.mqtt.on_disconnect = lambda _c, _u, _f, rc, _p: self.events.append(f"gone {rc}")
        self.subscribed = threading.Event()
        self.mqtt.on_subscribe = lambda *_a: self.subscribed.set()

    def start(self, *filters: str) -> Client:
        self.mqtt.connect(*broker_address(self.url))
        self.mqtt.loop_start()
        for f in filters:
            self.subscribed.clear()
            self.mqtt.subscribe(f, qos=1)
            assert self.subscribed.wait(5)
        return self

    def publish(self, topic: str, payload: dict | str) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        info = self.mqtt.publish(topic, body, qos=1)
        info.wait_for_publish(5)  # acknowledged by the broker, refused or not
        assert info.is_published(), self.events

    def topics_got(self) -> list[str]:
        return [t for t, _ in self.got]

    def stop(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()
