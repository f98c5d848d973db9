"""The one MQTT client factory: every process connects the same way.

The gateway, ingest, the alert monitor and the CLI all build their paho client here,
so broker credentials and TLS from ``BANDHUB_MQTT_URL`` apply to each of them alike.
"""

from __future__ import annotations

from urllib.parse import urlparse

import paho.mqtt.client as mqtt


def mqtt_client(
    url: str, client_id: str, *, clean_start: bool = True, mqtt5: bool = False
) -> mqtt.Client:
    """A paho client configured from an ``mqtt://user:pass@host:port`` URL (not connected).

    MQTT 3.1.1 unless ``mqtt5``: the gateway speaks 5 to learn from its PUBACKs that
    nobody was subscribed (with 5, ``clean_start`` is the caller's to pass to connect)."""
    u = urlparse(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp"):
        raise ValueError(f"unsupported MQTT URL scheme {u.scheme!r} in {url!r}")
    if mqtt5:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
    else:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_start,
            protocol=mqtt.MQTTv311,
        )
    if u.username:
        client.username_pw_set(u.username, u.password)
    if u.scheme == "mqtts":
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    return client


def broker_address(url: str) -> tuple[str, int]:
    u = urlparse(url)
    return u.hostname or "127.0.0.1", u.port or (8883 if u.scheme == "mqtts" else 1883)
