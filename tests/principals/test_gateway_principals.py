"""Gateways are principals, on a real mosquitto with its dynamic-security plugin and a
real PostgreSQL: the broker refuses what a gateway may not publish or receive, a
revoked gateway is cut off at once, and ingest refuses a forged record that got past
the broker another way."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest

from bandhub.contracts.messages import GatewayBindings, Topics
from bandhub.principals import broker_acl, credentials, store
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.gateways import (
    GatewayError,
    bind_band,
    list_gateways,
    register_gateway,
    revoke_gateway,
    unbind_band,
)
from ingest.service import Ingest
from tests.e2e.helpers import eventually
from tests.principals.mqtt_probe import Client

T0 = 1_795_500_000
TOPICS = Topics()


@pytest.fixture
def db(clean_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        yield conn


@pytest.fixture
def admin(broker) -> Iterator[BrokerAdmin]:
    assert broker.enforces_acls, "these tests need mosquitto with its dynamic-security plugin"
    with BrokerAdmin(broker.admin_url, TOPICS) as a:
        yield a


def _batch(band: str, gateway: str, seqs=range(3)) -> dict:
    return {
        "v": 1, "band_id": band, "gateway_id": gateway, "stream": "hr", "received_at": T0 + 10,
        "records": [{"seq": s, "t": T0 + 5 * s, "bpm": 60 + s} for s in seqs],
    }  # fmt: skip


def _gateway(broker, db, admin, gateway_id: str, *bands: str) -> Client:
    creds = register_gateway(db, admin, gateway_id)
    for band in bands:
        bind_band(db, admin, gateway_id, band)
    return Client(creds.url(broker.anonymous_url), broker_acl.gateway_client_id(gateway_id))


async def test_the_broker_passes_only_what_a_gateway_may_publish_and_receive(broker, db, admin):
    ingest = Client(broker.url_for(broker_acl.INGEST), "ingest-like").start(TOPICS.records_filter())
    operator = Client(broker.url, "app-like").start(TOPICS.command_results_filter())
    gw = _gateway(broker, db, admin, "gw-a", "BH-0001").start(TOPICS.commands_filter())
    try:
        gw.publish(TOPICS.records("BH-0001", "hr"), _batch("BH-0001", "gw-a"))
        gw.publish(TOPICS.records("BH-0002", "hr"), _batch("BH-0002", "gw-a"))  # not its band
        gw.publish(TOPICS.command("BH-0001"), {"v": 1, "id": "x", "cmd": "reboot"})  # not its job
        gw.publish(TOPICS.command_result("BH-0002"), {"v": 1, "id": "x", "band_id": "BH-0002"})
        operator.publish(TOPICS.command("BH-0001"), {"v": 1, "id": "c1", "cmd": "find_band"})
        operator.publish(TOPICS.command("BH-0002"), {"v": 1, "id": "c2", "cmd": "find_band"})
        await eventually(lambda: gw.got and ingest.got, 5, "the allowed messages")
        time.sleep(0.5)  # the refused ones would have arrived by now
        assert ingest.topics_got() == [TOPICS.records("BH-0001", "hr")]
        assert gw.topics_got() == [TOPICS.command("BH-0001")]  # not BH-0002's command
        assert operator.got == []

        # binding takes effect at once, on the open connection; unbinding too
        assert bind_band(db, admin, "gw-a", "BH-0002")
        gw.publish(TOPICS.records("BH-0002", "hr"), _batch("BH-0002", "gw-a"))
        await eventually(lambda: len(ingest.got) == 2, 5, "BH-0002's records once bound")
        assert unbind_band(db, admin, "gw-a", "BH-0002")
        gw.publish(TOPICS.records("BH-0002", "hr"), _batch("BH-0002", "gw-a", range(3, 5)))
        time.sleep(0.5)
        assert ingest.topics_got() == [
            TOPICS.records("BH-0001", "hr"),
            TOPICS.records("BH-0002", "hr"),
        ]
        assert gw.events == ["connect Success"]  # never dropped along the way
    finally:
        for c in (gw, operator, ingest):
            c.stop()


async def test_another_client_id_or_a_wrong_password_is_refused(broker, db, admin):
    creds = register_gateway(db, admin, "gw-a")
    url = creds.url(broker.anonymous_url)
    wrong_id = Client(url, "some-other-client").start()
    wrong_pw = Client(credentials.with_login(url, creds.username, "guess"), "bandhub-gw-gw-a")
    wrong_pw.start()
    try:
        await eventually(lambda: wrong_id.events and wrong_pw.events, 5, "the broker's answers")
        assert wrong_id.events[0] == wrong_pw.events[0] == "connect Not authorized"
    finally:
        wrong_id.stop()
        wrong_pw.stop()


async def test_a_revoked_gateway_is_disconnected_at_once_and_cannot_come_back(broker, db, admin):
    gw = _gateway(broker, db, admin, "gw-a", "BH-0001").start(TOPICS.gateway_bindings("gw-a"))
    try:
        await eventually(lambda: gw.got, 5, "its retained bindings")
        assert GatewayBindings.model_validate_json(gw.got[0][1]).bands == ["BH-0001"]
        assert revoke_gateway(db, admin, "gw-a")
        await eventually(lambda: any(e.startswith("gone") for e in gw.events), 3, "the cut")
        again = Client(gw.url, broker_acl.gateway_client_id("gw-a")).start()
        await eventually(lambda: again.events, 5, "the broker's answer to a reconnect")
        assert again.events[0] == "connect Not authorized"
        again.stop()
    finally:
        gw.stop()
    [row] = list_gateways(db)
    assert row.revoked_at is not None and row.bands == []
    with pytest.raises(GatewayError, match="revoked"):
        register_gateway(db, admin, "gw-a")  # a revoked id stays revoked
    with pytest.raises(GatewayError, match="revoked"):
        bind_band(db, admin, "gw-a", "BH-0001")
    assert broker_acl.gateway_username("gw-a") not in admin.gateway_logins()


async def test_ingest_dead_letters_a_forged_record_that_reached_it_another_way(
    settings, broker, db, admin
):
    settings.gateway_auth = True
    svc = Ingest(settings.model_copy(update={"mqtt_url": broker.url_for(broker_acl.INGEST)}))
    svc.start()
    assert svc.connected.wait(10)
    gw = _gateway(broker, db, admin, "gw-a", "BH-0001").start()
    register_gateway(db, admin, "gw-b")  # registered, but BH-0001 is not its band
    # the operator login may publish anywhere: what a mis-configured broker would let through
    forger = Client(broker.url, "forger").start()
    try:
        gw.publish(TOPICS.records("BH-0001", "hr"), _batch("BH-0001", "gw-a"))
        forger.publish(TOPICS.records("BH-0001", "hr"), _batch("BH-0001", "gw-b", range(10, 12)))
        forger.publish(TOPICS.records("BH-0001", "hr"), _batch("BH-0001", "gw-x", range(20, 21)))
        await eventually(lambda: svc.stats.messages == 3, 10, "all three messages handled")
    finally:
        for c in (gw, forger):
            c.stop()
        svc.stop()
    assert [r[0] for r in db.execute("SELECT seq FROM hr ORDER BY seq")] == [0, 1, 2]
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letters ORDER BY id")]
    assert len(reasons) == 3 and all(r.startswith("gateway_not_bound: ") for r in reasons)
    assert svc.stats.dead_letters == 3
    assert "gateway 'gw-b' may not publish for band 'BH-0001' (seq 10)" in reasons[0]
    assert "'gw-x'" in reasons[2]


def test_the_password_is_shown_once_and_stored_hashed(tmp_path, db):
    creds = register_gateway(db, None, "gw-a")  # no broker: the database half alone
    (stored,) = db.execute("SELECT password_hash FROM gateways").fetchone()
    assert creds.password not in stored and store.password_matches(creds.password, stored)
    assert not store.password_matches("guess", stored)
    again = register_gateway(db, None, "gw-a")  # registering again: a new password
    assert again.password != creds.password
    path = credentials.save(tmp_path, "gw-a", again.username, again.password)
    assert os.stat(path).st_mode & 0o777 == 0o600
    url = credentials.gateway_broker_url("mqtt://127.0.0.1:1883", tmp_path, "gw-a")
    assert url == again.url("mqtt://127.0.0.1:1883")
    # a login in BANDHUB_MQTT_URL itself wins over the file
    assert credentials.gateway_broker_url("mqtt://u:p@h:1", tmp_path, "gw-a") == "mqtt://u:p@h:1"
    with pytest.raises(GatewayError, match="must match"):
        register_gateway(db, None, "gw/+")  # would be a topic wildcard


async def test_a_gateway_cannot_speak_for_another_through_its_own_status_topics(
    settings, broker, db, admin
):
    """The broker lets gw-a write only its own status topics; ingest refuses a payload
    there that names another gateway or band (a forged location would go into alerts)."""
    svc = Ingest(settings.model_copy(update={"mqtt_url": broker.url_for(broker_acl.INGEST)}))
    svc.start()
    assert svc.connected.wait(10)
    gw = _gateway(broker, db, admin, "gw-a", "BH-0001").start()
    try:
        gw.publish(
            TOPICS.gateway_status("gw-a"),
            {"v": 1, "gateway_id": "gw-b", "state": "online", "location": {"lat": 1, "lon": 2}},
        )
        gw.publish(
            TOPICS.band_status("BH-0001"),
            {"v": 1, "band_id": "BH-0002", "gateway_id": "gw-a", "connected": True, "at": T0},
        )
        gw.publish(
            TOPICS.band_status("BH-0001"),
            {"v": 1, "band_id": "BH-0001", "gateway_id": "gw-a", "connected": True, "at": T0},
        )
        await eventually(lambda: svc.stats.messages == 3, 10, "the three statuses")
    finally:
        gw.stop()
        svc.stop()
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letters ORDER BY id")]
    assert reasons == [
        "gateway status on the topic of 'gw-a' is about 'gw-b'",
        "band status on the topic of 'BH-0001' is about 'BH-0002'",
    ]
    assert db.execute("SELECT location FROM gateways WHERE gateway_id = 'gw-b'").fetchall() == []
    stored = db.execute("SELECT band_id FROM band_status WHERE gateway_id = 'gw-a'").fetchall()
    assert stored == [("BH-0001",)]  # (band_status outlives clean_db: other tests' rows)
