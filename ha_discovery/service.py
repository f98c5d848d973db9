"""The discovery service: keeps Home Assistant's view of the exposed bands true.

Server side, because only the server knows which bands their owners chose to expose
and whether they consented to health values; a gateway knows neither. Every
``BANDHUB_HA_INTERVAL_S`` it reads the exposed bands (ha_discovery.snapshot) and
publishes, retained, what changed: each entity's discovery config, each state and the
band's availability. What it finds on the broker under the discovery prefix for a
bandhub device it no longer shows (unexposed, unclaimed, erased, unpaired, health
consent withdrawn) it removes with an empty config, then clears the states: the
broker's retained configs are the record of what was published, so a restart of
this service forgets nothing. A "find my band" press from Home Assistant becomes the
same ``find_band`` command the app sends, for a band that is still exposed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time

import paho.mqtt.client as mqtt
import psycopg

from bandhub.contracts.home_assistant import (
    AVAILABLE,
    ENTITIES,
    NOT_AVAILABLE,
    PRESS,
    HaTopics,
    entities_for,
    node_id,
)
from bandhub.contracts.messages import CommandRequest, Topics
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.settings import Settings
from ha_discovery.snapshot import BandView, exposed_bands, still_exposed

log = logging.getLogger(__name__)
CLIENT_ID = "bandhub-ha-discovery"
FIND_SECONDS = 5
FIND_TTL_S = 60.0  # a band found minutes after the press would only confuse


class HaDiscovery:
    """``await HaDiscovery(settings).run(stop)``; ``tick()`` does one round (tests)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.ha = HaTopics(settings.mqtt_topic_prefix, settings.ha_discovery_prefix)
        self._lock = threading.Lock()
        self._sent: dict[str, str] = {}  # topic -> payload we last published there
        self._seen: dict[str, str] = {}  # a bandhub config topic on the broker -> its band
        self._presses: asyncio.Queue[str] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._client = mqtt_client(settings.mqtt_url, CLIENT_ID)
        self._client.will_set(self.ha.bridge_availability(), NOT_AVAILABLE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_a: self._connected.clear()
        self._client.on_message = self._on_message

    # --- MQTT (paho's thread) -------------------------------------------------------

    def _on_connect(self, client, _u, _f, reason_code, _p) -> None:
        if reason_code.is_failure:
            log.error("home assistant discovery: the broker refused us: %s", reason_code)
            return
        filters = [*self.ha.config_filters(), self.ha.birth(), self.ha.commands_filter()]
        client.subscribe([(f, 1) for f in filters])
        client.publish(self.ha.bridge_availability(), AVAILABLE, qos=1, retain=True)
        with self._lock:
            self._sent.clear()  # a broker that lost its retained messages gets them again
        self._connected.set()

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.ha.birth():
            if msg.payload == AVAILABLE.encode():
                with self._lock:  # Home Assistant restarted: publish everything again
                    self._sent.clear()
            return
        band = self.ha.band_of_command(msg.topic)
        if band is not None:
            if msg.payload == PRESS.encode() and self._loop is not None:
                self._loop.call_soon_threadsafe(self._presses.put_nowait, band)
            return
        self._note_config(msg.topic, msg.payload)

    def _note_config(self, topic: str, payload: bytes) -> None:
        """Track the bandhub devices' configs the broker holds (ours echo back too)."""
        parts = topic.split("/")
        if len(parts) < 4 or not parts[-3].startswith("bandhub_"):
            return
        with self._lock:
            if not payload:
                self._seen.pop(topic, None)
                return
            try:
                band = json.loads(payload)["device"]["serial_number"]
            except (ValueError, KeyError, TypeError):
                return  # not one of ours after all
            if isinstance(band, str) and parts[-3] == node_id(band):
                self._seen[topic] = band

    def _publish(self, topic: str, payload: str) -> None:
        with self._lock:
            if self._sent.get(topic) == payload:
                return
            self._sent[topic] = payload
        self._client.publish(topic, payload, qos=1, retain=True)

    # --- one round --------------------------------------------------------------------

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.settings.database_url, autocommit=True)
        return self._conn

    def wanted(self, views: list[BandView]) -> tuple[dict[str, str], dict[str, str]]:
        """(config topic -> payload, state topic -> payload) of every shown band."""
        configs: dict[str, str] = {}
        states: dict[str, str] = {}
        for view in views:
            for entity in entities_for(view.health):
                payload = self.ha.entity_config(entity, view.device)
                configs[self.ha.config(entity, view.band_id)] = json.dumps(payload)
            states[self.ha.availability(view.band_id)] = view.availability
            for key, value in view.states.items():
                if value is not None:
                    states[self.ha.state(view.band_id, key)] = value
        return configs, states

    def tick(self) -> list[BandView]:
        """Read the exposed bands, remove what is no longer shown, publish what changed."""
        views = exposed_bands(self._db(), paired_only=self.settings.gateway_auth)
        configs, states = self.wanted(views)
        shown = {v.band_id for v in views}
        with self._lock:
            stale = {t: b for t, b in self._seen.items() if t not in configs}
        for topic in sorted(stale):  # entities first, then their states (HA's order)
            self._publish(topic, "")
        gone = {b for b in stale.values() if b not in shown}
        for view in views:
            if not view.health:  # consent withdrawn: the health values go too
                for entity in ENTITIES:
                    if entity.health:
                        self._publish(self.ha.state(view.band_id, entity.key), "")
        for band in sorted(gone):
            for topic in self.ha.state_topics(band):
                self._publish(topic, "")
        for topic, payload in configs.items():
            self._publish(topic, payload)
        for topic, payload in states.items():
            self._publish(topic, payload)
        if stale:
            log.info("home assistant: removed %d entities (bands %s)", len(stale), sorted(gone))
        return views

    def press(self, band_id: str) -> bool:
        """A "find my band" press: the app's find_band command, for a shown band only."""
        conn = self._db()
        if not still_exposed(conn, band_id, paired_only=self.settings.gateway_auth):
            log.warning("home assistant pressed find for %s, which is not exposed", band_id)
            return False
        command = CommandRequest(
            v=1,
            id=f"ha-{time.time_ns()}",
            cmd="find_band",
            args={"seconds": FIND_SECONDS},
            ttl_s=FIND_TTL_S,
            issued_at=time.time(),
        )
        info = self._client.publish(self.topics.command(band_id), command.model_dump_json(), qos=1)
        info.wait_for_publish(timeout=5)
        conn.execute(
            "INSERT INTO audit_log (band_id, actor, action, detail) VALUES (%s, %s, %s, %s)",
            (band_id, "home_assistant", "find_band", json.dumps({"command_id": command.id})),
        )
        return True

    # --- running ------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(*broker_address(self.settings.mqtt_url))
        self._client.loop_start()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: a round every interval, and each press as it comes."""
        self.start()
        try:
            while not stop.is_set():
                if self._connected.is_set():
                    try:
                        await asyncio.to_thread(self.tick)
                    except psycopg.Error as exc:
                        log.warning("home assistant: database error, retrying: %s", exc)
                        self._close_db()
                    except Exception:  # one bad round must not end the service
                        log.exception("home assistant: round failed, retrying")
                await self._serve_presses(stop, self.settings.ha_interval_s)
        finally:
            await asyncio.to_thread(self.close)

    async def _serve_presses(self, stop: asyncio.Event, for_s: float) -> None:
        deadline = time.monotonic() + for_s
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                band = await asyncio.wait_for(self._presses.get(), min(left, 0.5))
                try:
                    await asyncio.to_thread(self.press, band)
                except psycopg.Error as exc:
                    log.warning("home assistant: press for %s lost: %s", band, exc)
                    self._close_db()

    def _close_db(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Home Assistant shows the bands unavailable while this service is away."""
        if self._connected.is_set():
            info = self._client.publish(
                self.ha.bridge_availability(), NOT_AVAILABLE, qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=3)
        self._client.disconnect()
        self._client.loop_stop()
        self._close_db()
