"""The schema check itself: it accepts every entity a band gets (built offline, for a
band id Home Assistant's topics cannot hold as is) and refuses what Home Assistant
refuses, so the discovery test cannot pass on a payload Home Assistant would drop."""

from __future__ import annotations

import copy

import pytest

from bandhub.contracts.home_assistant import ENTITIES, DeviceInfo, HaTopics, node_id
from tests.ha_discovery.ha_schema import check_discovery

HA = HaTopics()
DEVICE = DeviceInfo("BH.0001:a", "Gran", "BH-1", "2.1.0")


def test_every_entity_of_an_awkward_band_id_is_valid_and_distinct():
    seen = set()
    for entity in ENTITIES:
        topic = HA.config(entity, DEVICE.band_id)
        component, node, key, model = check_discovery(topic, HA.entity_config(entity, DEVICE))
        assert node == node_id(DEVICE.band_id)
        assert (component, key) == (entity.component, entity.key)
        seen.add(model.unique_id)
    assert len(seen) == len(ENTITIES)
    assert node_id("BH.1") != node_id("BH_1") != node_id("BH:1")


def _battery() -> tuple[str, dict]:
    battery = next(e for e in ENTITIES if e.key == "battery")
    return HA.config(battery, "BH-0001"), HA.entity_config(battery, DeviceInfo("BH-0001", ""))


def _broken(change) -> tuple[str, dict]:
    topic, payload = _battery()
    payload = copy.deepcopy(payload)
    changed = change(topic, payload)  # a new (topic, payload), or payload changed in place
    return changed if isinstance(changed, tuple) else (topic, payload)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda t, p: (t.replace("bandhub_BH-0001", "bandhub.BH-0001"), p),  # node id chars
        lambda t, p: (t.replace("/config", "/conf"), p),
        lambda t, p: p.update(unit_of_measurement="percent"),  # battery is in %
        lambda t, p: p.update(state_class="average"),
        lambda t, p: p.update(device_class="heart_rate"),  # no such sensor class
        lambda t, p: p.update(device_class="timestamp"),  # with a unit and a state class
        lambda t, p: p["device"].update(identifiers=[]),  # a device needs an identifier
        lambda t, p: p.pop("unique_id"),  # a device needs the entity's unique_id
        lambda t, p: p.pop("state_topic"),
        lambda t, p: p.update(state_topic="bandhub/v1/ha/+x/battery"),
        lambda t, p: p["availability"][0].pop("topic"),
        lambda t, p: p.update(availability_mode="some"),
        lambda t, p: p.update(entity_category="health"),
        lambda t, p: p.update(unit_of_measurment="%"),  # a typo HA would drop silently
    ],
)
def test_the_check_refuses_what_home_assistant_refuses(break_it):
    topic, payload = _broken(break_it)
    with pytest.raises((AssertionError, ValueError)):
        check_discovery(topic, payload)
