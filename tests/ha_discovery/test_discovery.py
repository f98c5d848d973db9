"""Bands in Home Assistant: the owner exposes a band through the API, the discovery
service (its own broker login) publishes what Home Assistant needs, a stand-in Home
Assistant (a login with the role docs/home-assistant.md gives it) sees the configs
and states, presses "find my band", and sees the entities go when the band goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import psycopg
import pytest

from bandhub.contracts.home_assistant import ENTITIES, HaTopics, node_id
from bandhub.contracts.messages import Topics
from bandhub.principals import broker_acl
from bandhub.principals.credentials import with_login
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.gateways import unbind_band
from ha_discovery.service import HaDiscovery
from tests.e2e.helpers import eventually
from tests.ha_discovery.ha_schema import check_discovery
from tests.principals.mqtt_probe import Client

HA = HaTopics()
ALL_KEYS = {e.key for e in ENTITIES}
HEALTH_KEYS = {"heart_rate", "steps_today"}


class HomeAssistant(Client):
    """What Home Assistant would hold: the last payload per topic (empty: removed)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, f"home-assistant-{uuid.uuid4().hex[:6]}")
        self.retained: dict[str, bytes] = {}
        self.mqtt.on_message = self._keep

    def _keep(self, _c, _u, msg) -> None:
        self.got.append((msg.topic, bytes(msg.payload)))
        if HA.band_of_command(msg.topic):  # a press, not state
            return
        if msg.payload:
            self.retained[msg.topic] = bytes(msg.payload)
        else:
            self.retained.pop(msg.topic, None)

    def listen(self, *more: str) -> HomeAssistant:
        return self.start(f"{HA.discovery_prefix}/#", HA.ha_filter(), *more)

    def configs(self, band_id: str) -> dict[str, dict]:
        """object id -> config payload of the band's entities."""
        node = node_id(band_id)
        out = {}
        for topic, payload in list(self.retained.items()):
            parts = topic.split("/")
            if topic.endswith("/config") and parts[-3] == node:
                out[parts[-2]] = json.loads(payload)
        return out

    def state(self, band_id: str, key: str) -> str | None:
        payload = self.retained.get(HA.state(band_id, key))
        return payload.decode() if payload is not None else None


def _seed(url: str, owner_id: int) -> None:
    """Three bands of one owner with data; BH-0001 has an open fall alert."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM band_status")  # clean_db leaves it (no foreign key)
        conn.execute("INSERT INTO gateways (gateway_id, state) VALUES ('gw-1', 'online')")
        for k, band in enumerate(("BH-0001", "BH-0002", "BH-0003")):
            conn.execute(
                "INSERT INTO bands (band_id, name, owner_id, claimed_at, last_seen)"
                " VALUES (%s, %s, %s, now(), '2026-12-02 14:00:00Z')",
                (band, f"Wearer {k + 1}", owner_id),
            )
            status = {"connected": True, "firmware": "sim-1.0.0", "battery_percent": 90}
            conn.execute(
                "INSERT INTO band_status (band_id, gateway_id, status) VALUES (%s, 'gw-1', %s)",
                (band, json.dumps(status)),
            )
            conn.execute(
                "INSERT INTO hr VALUES (%s, 1, now() - interval '1 minute', 71, '{}', true, now())",
                (band,),
            )
            for seq, steps in ((2, 40), (3, 25)):
                conn.execute(
                    "INSERT INTO epochs VALUES (%s, %s, now() - make_interval(secs => %s),"
                    " %s, 100, 30, 70, true, now())",
                    (band, seq, 5 - seq, steps),
                )
            conn.execute(
                "INSERT INTO battery VALUES (%s, 4, now() - interval '1 minute', 64, now())",
                (band,),
            )
        conn.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
            " VALUES ('BH-0001', 'fall', 'dispatched', now(), now())"
        )


@contextlib.contextmanager
def ha_login(broker):
    """Home Assistant's own broker login, with the role the docs give it."""
    if not broker.enforces_acls:
        yield broker.url
        return
    user, password = "home-assistant", broker_acl.new_password()
    with BrokerAdmin(broker.admin_url, Topics()) as admin:
        admin.run(
            {"command": "createRole", "rolename": user,
             "acls": broker_acl.home_assistant_client_acls(HA)},
            {"command": "createClient", "username": user, "password": password,
             "roles": [{"rolename": user}]},
        )  # fmt: skip
    yield with_login(broker.anonymous_url, user, password)


@pytest.fixture
async def discovery(settings, broker):
    """The discovery service on its own login, a round every 0.2 s."""
    service_settings = settings.model_copy(
        update={
            "mqtt_url": broker.url_for(broker_acl.HOME_ASSISTANT),
            "ha_discovery": True,
            "ha_interval_s": 0.2,
        }
    )
    stop = asyncio.Event()
    service = HaDiscovery(service_settings)
    task = asyncio.create_task(service.run(stop))
    yield service
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_an_exposed_band_shows_in_home_assistant_and_goes_when_it_goes(
    owner, settings, broker, discovery, band_commands
):
    _seed(settings.database_url, owner.account_id)
    r = await owner.client.put(
        "/bands/BH-0001/home-assistant", json={"exposed": True, "health": True}
    )
    assert r.status_code == 200, r.text
    assert {e["key"] for e in r.json()["entities"]} == ALL_KEYS
    r = await owner.client.put("/bands/BH-0002/home-assistant", json={"exposed": True})
    assert {e["key"] for e in r.json()["entities"]} == ALL_KEYS - HEALTH_KEYS
    # BH-0003 stays private

    with ha_login(broker) as url:
        ha = HomeAssistant(url).listen(f"{HA.prefix}/#")  # it may try: it gets only its own
        try:
            await eventually(lambda: len(ha.configs("BH-0001")) == 7, 10, "BH-0001's entities")
            await eventually(lambda: len(ha.configs("BH-0002")) == 5, 10, "BH-0002's entities")
            await eventually(lambda: ha.state("BH-0001", "fall_sos") == "ON", 10, "states")

            # every config is one Home Assistant accepts, on the topic it listens to
            for topic, payload in list(ha.retained.items()):
                if topic.endswith("/config"):
                    _component, node, key, model = check_discovery(topic, json.loads(payload))
                    assert node in (node_id("BH-0001"), node_id("BH-0002"))
                    assert model.unique_id == f"{node}_{key}"
                    assert model.device.identifiers == [node]
                    assert model.device.serial_number in ("BH-0001", "BH-0002")
                    assert model.device.sw_version == "sim-1.0.0"
                    assert model.device.manufacturer and model.device.model
                    assert {a.topic for a in model.availability} >= {HA.bridge_availability()}
            assert not ha.configs("BH-0003"), "a band not exposed shows nothing"
            one = ha.configs("BH-0001")
            assert one["battery"]["device_class"] == "battery"
            assert one["heart_rate"]["unit_of_measurement"] == "bpm"
            assert one["steps_today"]["state_class"] == "total_increasing"
            assert one["find"]["command_topic"] == HA.command("BH-0001")
            assert HA.availability("BH-0001") in {a["topic"] for a in one["worn"]["availability"]}

            # the values, and the band's availability, as the database has them
            assert ha.state("BH-0001", "heart_rate") == "71"
            assert ha.state("BH-0001", "steps_today") == "65"
            assert ha.state("BH-0001", "battery") == "64"
            assert ha.state("BH-0001", "worn") == "ON"
            assert ha.state("BH-0001", "last_sync").startswith("2026-12-02T14:00:00")
            assert ha.retained[HA.availability("BH-0001")] == b"online"
            assert ha.retained[HA.bridge_availability()] == b"online"
            assert ha.state("BH-0002", "fall_sos") == "OFF"
            assert ha.state("BH-0002", "heart_rate") is None, "no consent, no heart rate"
            assert ha.state("BH-0002", "steps_today") is None

            # kept current as data arrives
            with psycopg.connect(settings.database_url) as conn:
                conn.execute("INSERT INTO hr VALUES ('BH-0001', 9, now(), 88, '{}', true, now())")
                conn.execute("UPDATE alerts SET state = 'resolved' WHERE band_id = 'BH-0001'")
                conn.execute(
                    "UPDATE band_status SET status = status || '{\"connected\": false}'"
                    " WHERE band_id = 'BH-0001'"
                )
            await eventually(lambda: ha.state("BH-0001", "heart_rate") == "88", 10, "new bpm")
            await eventually(lambda: ha.state("BH-0001", "fall_sos") == "OFF", 10, "resolved")
            await eventually(
                lambda: ha.retained.get(HA.availability("BH-0001")) == b"offline", 10, "offline"
            )

            # "find my band" becomes the app's find_band command, for an exposed band only
            ha.publish(HA.command("BH-0003"), "PRESS")  # not exposed: refused
            ha.publish(HA.command("BH-0001"), "PRESS")
            msg = await asyncio.wait_for(band_commands.get(), 10)
            assert msg.topic == "bandhub/v1/band/BH-0001/cmd"
            command = json.loads(msg.payload)
            assert command["cmd"] == "find_band" and command["id"].startswith("ha-")
            await asyncio.sleep(0.5)
            assert band_commands.empty(), "BH-0003 is not exposed: no command for it"
            with psycopg.connect(settings.database_url) as conn:
                audited = conn.execute(
                    "SELECT band_id FROM audit_log WHERE actor = 'home_assistant'"
                ).fetchall()
            assert audited == [("BH-0001",)]

            # health consent withdrawn: heart rate and steps go, the rest stays
            r = await owner.client.put(
                "/bands/BH-0001/home-assistant", json={"exposed": True, "health": False}
            )
            assert r.status_code == 200
            await eventually(lambda: len(ha.configs("BH-0001")) == 5, 10, "health entities gone")
            await eventually(lambda: ha.state("BH-0001", "heart_rate") is None, 10, "bpm cleared")
            assert ha.state("BH-0001", "steps_today") is None

            # unexposed and unclaimed: every entity and retained state goes
            await owner.client.put("/bands/BH-0002/home-assistant", json={"exposed": False})
            assert (await owner.client.delete("/bands/BH-0001/owner")).status_code == 204
            for band in ("BH-0001", "BH-0002"):
                await eventually(lambda b=band: not ha.configs(b), 10, f"{band}'s entities gone")
                band_topics = f"{HA.prefix}/ha/{band}/"
                await eventually(
                    lambda p=band_topics: not any(t.startswith(p) for t in ha.retained),
                    10,
                    f"{band}'s states cleared",
                )
        finally:
            ha.stop()
        if broker.enforces_acls:  # no record, status or command reaches Home Assistant
            mine = (f"{HA.discovery_prefix}/", f"{HA.prefix}/ha/")
            assert [t for t in ha.topics_got() if not t.startswith(mine)] == []

        # and from the broker itself: a Home Assistant starting now gets nothing of them
        fresh = HomeAssistant(url).listen()
        await asyncio.sleep(0.5)
        fresh.stop()
        assert not fresh.configs("BH-0001") and not fresh.configs("BH-0002")

    # the consent record tells the story of BH-0002
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT grantee, scopes, revoked_at IS NOT NULL FROM consents"
            " WHERE band_id = 'BH-0002' ORDER BY id"
        ).fetchall()
    assert rows == [("Home Assistant", ["status", "find_band"], True)]


async def test_entities_go_when_the_band_is_unpaired_or_erased_even_while_the_service_was_away(
    owner, settings, broker
):
    """The broker's retained configs are the service's memory: a service started after
    the band was unpaired or erased still removes what an earlier run published."""
    _seed(settings.database_url, owner.account_id)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE gateways SET mqtt_username = 'gateway-gw-1', password_hash = 'x',"
            " registered_at = now() WHERE gateway_id = 'gw-1'"
        )
        for band in ("BH-0001", "BH-0002"):
            conn.execute(
                "INSERT INTO gateway_bands (gateway_id, band_id) VALUES ('gw-1', %s)", (band,)
            )
    for band in ("BH-0001", "BH-0002"):
        r = await owner.client.put(f"/bands/{band}/home-assistant", json={"exposed": True})
        assert r.status_code == 200
    paired = settings.model_copy(
        update={
            "mqtt_url": broker.url_for(broker_acl.HOME_ASSISTANT),
            "ha_discovery": True,
            "ha_interval_s": 0.2,
            "gateway_auth": True,  # unpaired bands are not shown
        }
    )

    async def run_service(until) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(HaDiscovery(paired).run(stop))
        try:
            await eventually(until, 10, "the service's round")
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    with ha_login(broker) as url:
        ha = HomeAssistant(url).listen()
        try:
            await run_service(lambda: len(ha.configs("BH-0001")) == len(ha.configs("BH-0002")) == 5)
            # stopped: unavailable (delivered to Home Assistant's own connection a moment later)
            offline = b"offline"
            await eventually(
                lambda: ha.retained.get(HA.bridge_availability()) == offline, 5, "offline"
            )
            # while the service is away: BH-0001 unpaired, BH-0002 erased
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                assert unbind_band(conn, None, "gw-1", "BH-0001")
            assert (await owner.client.delete("/bands/BH-0002")).status_code in (200, 204)
            await run_service(lambda: not ha.configs("BH-0001") and not ha.configs("BH-0002"))
            assert not any(t.startswith(f"{HA.prefix}/ha/BH-") for t in ha.retained)
        finally:
            ha.stop()


async def test_only_the_owner_exposes_and_health_needs_exposure(owner, api, settings):
    owner.own(settings.database_url, "BH-0001")
    r = await owner.client.put(
        "/bands/BH-0001/home-assistant", json={"exposed": False, "health": True}
    )
    assert r.status_code == 422
    r = await owner.client.get("/bands/BH-0001/home-assistant")
    assert r.json()["exposed"] is False and r.json()["entities"] == []
    assert r.json()["discovery_enabled"] is False  # off by default


async def test_the_discovery_login_hears_no_band_data(broker):
    """bandhub-ha reads the database, not the broker: subscribing to records, statuses
    or command results gets it nothing, while what it needs is delivered."""
    if not broker.enforces_acls:
        pytest.skip("a broker without dynamic security enforces no ACLs")
    service = Client(broker.url_for(broker_acl.HOME_ASSISTANT), "probe-ha-service").start(
        "bandhub/v1/band/#", "bandhub/v1/gw/#", HA.commands_filter(), HA.birth()
    )
    operator = Client(broker.url, "probe-operator").start()
    try:
        operator.publish("bandhub/v1/band/BH-0001/status", {"v": 1})
        operator.publish("bandhub/v1/band/BH-0001/rec/hr", {"v": 1})
        operator.publish("bandhub/v1/band/BH-0001/cmd/result", {"v": 1})
        operator.publish(HA.command("BH-0001"), "PRESS")
        await eventually(lambda: service.got, 5, "the press")
        await asyncio.sleep(0.3)
        assert service.topics_got() == [HA.command("BH-0001")]
    finally:
        service.stop()
        operator.stop()
