"""Home Assistant's MQTT discovery schema, written out independently of bandhub's code,
from Home Assistant's own (home-assistant/core, homeassistant/components/mqtt:
discovery.py TOPIC_MATCHER, schemas.py device and availability schemas, sensor.py,
binary_sensor.py and button.py platform schemas; sensor/const.py device and state
classes and the units a device class takes) and its documentation
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).

Stricter than Home Assistant in one way: an unknown key is an error here (Home
Assistant drops it silently from a discovery payload), so a misspelt option fails a
test instead of being ignored by every Home Assistant.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# discovery.py: <component>/[<node_id>/]<object_id>/config under the discovery prefix
TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
SUPPORTED_COMPONENTS = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover",
    "device_automation", "device_tracker", "event", "fan", "humidifier", "image",
    "lawn_mower", "light", "lock", "notify", "number", "scene", "select", "sensor", "siren",
    "switch", "tag", "text", "update", "vacuum", "valve", "water_heater",
}  # fmt: skip

SENSOR_DEVICE_CLASSES = {
    "date", "enum", "timestamp", "apparent_power", "aqi", "area", "atmospheric_pressure",
    "battery", "blood_glucose_concentration", "carbon_monoxide", "carbon_dioxide",
    "conductivity", "current", "data_rate", "data_size", "distance", "duration", "energy",
    "energy_distance", "energy_storage", "frequency", "gas", "humidity", "illuminance",
    "irradiance", "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide",
    "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power_factor", "power",
    "precipitation", "precipitation_intensity", "pressure", "reactive_power",
    "signal_strength", "sound_pressure", "speed", "sulphur_dioxide", "temperature",
    "temperature_delta", "volatile_organic_compounds", "volatile_organic_compounds_parts",
    "voltage", "volume", "volume_storage", "volume_flow_rate", "water", "weight",
    "wind_direction", "wind_speed",
}  # fmt: skip
NON_NUMERIC_DEVICE_CLASSES = {"date", "enum", "timestamp"}
# sensor/const.py DEVICE_CLASS_UNITS, for the classes whose unit is one fixed value
FIXED_UNITS = {"battery": {"%"}, "humidity": {"%"}, "moisture": {"%"}, "aqi": {None}}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
    "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
    "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip
BUTTON_DEVICE_CLASSES = {"identify", "restart", "update"}
ENTITY_CATEGORIES = {"config", "diagnostic"}


def _subscribe_topic(topic: str) -> str:
    """util.valid_subscribe_topic: '+' and '#' only as whole levels, '#' only last."""
    if not topic or len(topic.encode()) > 65535 or "\0" in topic:
        raise ValueError(f"not a valid MQTT topic: {topic!r}")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "+" in level and level != "+":
            raise ValueError(f"'+' must be a whole level: {topic!r}")
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"'#' must be the whole last level: {topic!r}")
    return topic


def _publish_topic(topic: str) -> str:
    """util.valid_publish_topic: a subscribe-valid topic without wildcards."""
    _subscribe_topic(topic)
    if "+" in topic or "#" in topic:
        raise ValueError(f"wildcards in a publish topic: {topic!r}")
    return topic


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Device(_Strict):
    """schemas.MQTT_ENTITY_DEVICE_INFO_SCHEMA"""

    identifiers: list[str] = Field(default_factory=list)
    connections: list[tuple[str, str]] = Field(default_factory=list)
    manufacturer: str | None = None
    model: str | None = None
    model_id: str | None = None
    name: str | None = None
    hw_version: str | None = None
    serial_number: str | None = None
    sw_version: str | None = None
    via_device: str | None = None
    suggested_area: str | None = None
    configuration_url: str | None = None

    @model_validator(mode="after")
    def _identified(self) -> Device:
        if not (self.identifiers or self.connections):
            raise ValueError("Device must have at least one identifying value")
        return self


class Origin(_Strict):
    """schemas.MQTT_ORIGIN_INFO_SCHEMA"""

    name: str
    sw_version: str | None = None
    support_url: str | None = None


class Availability(_Strict):
    """one item of schemas.MQTT_AVAILABILITY_LIST_SCHEMA"""

    topic: str
    payload_available: str = "online"
    payload_not_available: str = "offline"
    value_template: str | None = None

    _topic = field_validator("topic")(_subscribe_topic)


class EntityCommon(_Strict):
    """entity.MQTT_ENTITY_COMMON_SCHEMA with the availability schema."""

    name: str | None = None
    unique_id: str | None = None
    default_entity_id: str | None = Field(None, pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    device: Device | None = None
    origin: Origin | None = None
    availability: list[Availability] | None = None
    availability_topic: str | None = None
    availability_mode: Literal["all", "any", "latest"] = "latest"
    payload_available: str = "online"
    payload_not_available: str = "offline"
    qos: Literal[0, 1, 2] = 0
    icon: str | None = Field(None, pattern=r"^[a-z0-9-]+:[a-z0-9-]+$")
    entity_category: str | None = None
    enabled_by_default: bool = True
    encoding: str = "utf-8"
    json_attributes_topic: str | None = None

    @model_validator(mode="after")
    def _common(self) -> EntityCommon:
        if self.availability and self.availability_topic:
            raise ValueError("availability and availability_topic are exclusive")
        if self.device is not None and not self.unique_id:
            # documented: "device ... Only works when unique_id is set"
            raise ValueError("a device needs the entity's unique_id")
        if self.entity_category is not None and self.entity_category not in ENTITY_CATEGORIES:
            raise ValueError(f"entity_category {self.entity_category!r}")
        return self


class Sensor(EntityCommon):
    """sensor.PLATFORM_SCHEMA_MODERN and its state/device class validation."""

    state_topic: str
    device_class: str | None = None
    state_class: str | None = None
    unit_of_measurement: str | None = None
    value_template: str | None = None
    expire_after: int | None = Field(None, gt=0)
    force_update: bool = False
    suggested_display_precision: int | None = Field(None, ge=0)

    _topic = field_validator("state_topic")(_subscribe_topic)

    @model_validator(mode="after")
    def _classes(self) -> Sensor:
        dc, sc, unit = self.device_class, self.state_class, self.unit_of_measurement
        if dc is not None and dc not in SENSOR_DEVICE_CLASSES:
            raise ValueError(f"sensor device_class {dc!r}")
        if sc is not None and sc not in STATE_CLASSES:
            raise ValueError(f"state_class {sc!r}")
        if dc in NON_NUMERIC_DEVICE_CLASSES and (sc is not None or unit is not None):
            raise ValueError(f"a {dc} sensor has neither state_class nor unit")
        if dc in FIXED_UNITS and unit not in FIXED_UNITS[dc]:
            raise ValueError(f"a {dc} sensor's unit is one of {FIXED_UNITS[dc]}, not {unit!r}")
        return self


class BinarySensor(EntityCommon):
    """binary_sensor.PLATFORM_SCHEMA_MODERN"""

    state_topic: str
    device_class: str | None = None
    payload_on: str = "ON"
    payload_off: str = "OFF"
    value_template: str | None = None
    expire_after: int | None = Field(None, gt=0)
    off_delay: int | None = Field(None, gt=0)
    force_update: bool = False

    _topic = field_validator("state_topic")(_subscribe_topic)

    @field_validator("device_class")
    @classmethod
    def _class(cls, value: str | None) -> str | None:
        if value is not None and value not in BINARY_SENSOR_DEVICE_CLASSES:
            raise ValueError(f"binary_sensor device_class {value!r}")
        return value


class Button(EntityCommon):
    """button.PLATFORM_SCHEMA_MODERN"""

    command_topic: str
    command_template: str | None = None
    device_class: str | None = None
    payload_press: str = "PRESS"
    retain: bool = False

    _topic = field_validator("command_topic")(_publish_topic)

    @field_validator("device_class")
    @classmethod
    def _class(cls, value: str | None) -> str | None:
        if value is not None and value not in BUTTON_DEVICE_CLASSES:
            raise ValueError(f"button device_class {value!r}")
        return value


PLATFORMS: dict[str, type[EntityCommon]] = {
    "sensor": Sensor,
    "binary_sensor": BinarySensor,
    "button": Button,
}


def check_discovery(topic: str, payload: dict, discovery_prefix: str = "homeassistant"):
    """Validate one discovery message as Home Assistant would; returns
    (component, node_id, object_id, the validated model). Raises on anything wrong."""
    head = discovery_prefix + "/"
    assert topic.startswith(head), topic
    match = TOPIC_MATCHER.fullmatch(topic[len(head) :])
    assert match, f"Home Assistant ignores the topic {topic!r}"
    component, node, object_id = match.groups()
    assert component in SUPPORTED_COMPONENTS, component
    return component, node, object_id, PLATFORMS[component].model_validate(payload)
