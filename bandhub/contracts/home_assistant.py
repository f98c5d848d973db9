"""Home Assistant MQTT discovery: the entities a band gets, their topics and their
config payloads (docs/home-assistant.md).

Pure data, no I/O, in one place: the discovery service publishes what this builds, the
API lists the entities to the owner, the broker ACLs name these topics and the tests
check the payloads against Home Assistant's own schema. The conventions followed are
Home Assistant's: config on ``<discovery prefix>/<component>/<node_id>/<object_id>/config``
(retained; an empty payload removes the entity), one device per band with
``identifiers``, availability on topics of their own, a button pressed by publishing
``payload_press`` on its ``command_topic``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from bandhub import __version__

Component = Literal["sensor", "binary_sensor", "button"]
COMPONENTS: tuple[Component, ...] = ("sensor", "binary_sensor", "button")
AVAILABLE, NOT_AVAILABLE = "online", "offline"  # Home Assistant's defaults
PRESS = "PRESS"  # the button's payload_press (Home Assistant's default)
ON, OFF = "ON", "OFF"  # binary sensors' payload_on / payload_off (the defaults)
MANUFACTURER = "bandhub"
DEFAULT_MODEL = "bandhub wristband"
ORIGIN = {"name": "bandhub", "sw_version": __version__}  # who published it, HA logs


@dataclass(frozen=True)
class Entity:
    """One entity of a band's device. ``health``: shown only with the owner's consent
    to share health values; ``follows_band``: unavailable while the band is offline."""

    component: Component
    key: str  # object id, and the last level of its state topic
    name: str
    options: dict = field(default_factory=dict)
    health: bool = False
    follows_band: bool = True


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "sensor", "heart_rate", "Heart rate", health=True,
        options={"unit_of_measurement": "bpm", "state_class": "measurement",
                 "icon": "mdi:heart-pulse"},
    ),
    Entity(
        "sensor", "steps_today", "Steps today", health=True,
        # a daily count that drops to 0 at the wearer's midnight: a meter reset to HA
        options={"unit_of_measurement": "steps", "state_class": "total_increasing",
                 "icon": "mdi:walk"},
    ),
    Entity(
        "sensor", "battery", "Battery",
        options={"device_class": "battery", "unit_of_measurement": "%",
                 "state_class": "measurement", "entity_category": "diagnostic"},
    ),
    Entity(
        # when the band last brought data: still worth seeing while the band is away
        "sensor", "last_sync", "Last sync", follows_band=False,
        options={"device_class": "timestamp", "entity_category": "diagnostic"},
    ),
    Entity("binary_sensor", "worn", "Worn", options={"icon": "mdi:watch"}),
    Entity(
        # on: a fall or an SOS press has an alert that is not yet resolved
        "binary_sensor", "fall_sos", "Fall or SOS", options={"device_class": "safety"},
    ),
    Entity("button", "find", "Find my band", options={"device_class": "identify"}),
)  # fmt: skip


def entities_for(health: bool) -> tuple[Entity, ...]:
    """The entities a band exposed with (or without) consent to share health values."""
    return tuple(e for e in ENTITIES if health or not e.health)


def node_id(band_id: str) -> str:
    """The band's node id and device identifier: Home Assistant allows only
    ``[a-zA-Z0-9_-]`` there, so other characters of a band id become ``_`` and a short
    hash keeps two such ids apart (``BH.1`` and ``BH_1``)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", band_id)
    if safe != band_id:
        safe += "_" + hashlib.sha256(band_id.encode()).hexdigest()[:6]
    return f"bandhub_{safe}"


@dataclass(frozen=True)
class DeviceInfo:
    """What Home Assistant's device registry shows for the band."""

    band_id: str
    name: str
    model: str = DEFAULT_MODEL
    firmware: str = ""

    def payload(self) -> dict:
        out = {
            "identifiers": [node_id(self.band_id)],
            "name": self.name or f"Band {self.band_id}",
            "manufacturer": MANUFACTURER,
            "model": self.model or DEFAULT_MODEL,
            "serial_number": self.band_id,
        }
        if self.firmware:
            out["sw_version"] = self.firmware
        return out


class HaTopics:
    """Every topic of the discovery contract. bandhub's own topics live under
    ``<prefix>/ha/``; a band id never starts with ``_``, so ``_bridge`` is free."""

    def __init__(self, prefix: str = "bandhub/v1", discovery_prefix: str = "homeassistant"):
        self.prefix = prefix.rstrip("/")
        self.discovery_prefix = discovery_prefix.rstrip("/")

    def config(self, entity: Entity, band_id: str) -> str:
        return f"{self.discovery_prefix}/{entity.component}/{node_id(band_id)}/{entity.key}/config"

    def config_filters(self) -> list[str]:
        """The discovery topics of the components bandhub uses (any device's)."""
        return [f"{self.discovery_prefix}/{c}/+/+/config" for c in COMPONENTS]

    def state(self, band_id: str, key: str) -> str:
        return f"{self.prefix}/ha/{band_id}/{key}"

    def availability(self, band_id: str) -> str:
        return f"{self.prefix}/ha/{band_id}/availability"

    def bridge_availability(self) -> str:
        """The discovery service's own: ``online`` while it runs, its last will ``offline``."""
        return f"{self.prefix}/ha/_bridge/availability"

    def command(self, band_id: str) -> str:
        """Where Home Assistant publishes the "find my band" button's press."""
        return f"{self.prefix}/ha/{band_id}/find/press"

    def commands_filter(self) -> str:
        return f"{self.prefix}/ha/+/find/press"

    def ha_filter(self) -> str:
        """Everything bandhub publishes for Home Assistant under its own prefix."""
        return f"{self.prefix}/ha/#"

    def birth(self) -> str:
        """Home Assistant says ``online`` here when it (re)starts."""
        return f"{self.discovery_prefix}/status"

    def band_of_command(self, topic: str) -> str | None:
        head, tail = f"{self.prefix}/ha/", "/find/press"
        if topic.startswith(head) and topic.endswith(tail):
            band = topic[len(head) : -len(tail)]
            if band and "/" not in band and not band.startswith("_"):
                return band
        return None

    def state_topics(self, band_id: str) -> list[str]:
        """Every retained topic of a band (to clear when its entities go)."""
        keys = [e.key for e in ENTITIES if e.component != "button"]
        return [self.availability(band_id), *(self.state(band_id, k) for k in keys)]

    def entity_config(self, entity: Entity, device: DeviceInfo) -> dict:
        """The discovery payload of one entity of one band (full key names, no
        abbreviations: easier to read in a broker, and Home Assistant accepts both)."""
        band_id, node = device.band_id, node_id(device.band_id)
        availability = [{"topic": self.bridge_availability()}]
        if entity.follows_band:
            availability.append({"topic": self.availability(band_id)})
        payload: dict = {
            "name": entity.name,
            "unique_id": f"{node}_{entity.key}",
            "default_entity_id": f"{entity.component}.{node.lower().replace('-', '_')}"
            f"_{entity.key}",
            "device": device.payload(),
            "origin": ORIGIN,
            "availability": availability,
            "availability_mode": "all",
            "qos": 1,
            **entity.options,
        }
        if entity.component == "button":
            payload["command_topic"] = self.command(band_id)
            payload["payload_press"] = PRESS
        else:
            payload["state_topic"] = self.state(band_id, entity.key)
        return payload
