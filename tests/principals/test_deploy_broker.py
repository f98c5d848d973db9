"""The docker-compose broker, run here: deploy/mosquitto/mosquitto.conf with the file
`bandhub broker init` writes, on the local mosquitto (paths and port adjusted only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bandhub.principals import broker_acl
from bandhub.principals.credentials import with_login
from stack.embedded.broker import dynsec_plugin
from stack.ports import free_port, wait_port_blocking
from tests.e2e.helpers import eventually
from tests.principals.mqtt_probe import Client

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {
    "MQTT_ADMIN_PASSWORD": "admin-password-1",
    "MQTT_INGEST_PASSWORD": "ingest-password-1",
    "MQTT_API_PASSWORD": "api-password-123",
    "MQTT_MONITOR_PASSWORD": "monitor-password",
    "MQTT_OPERATOR_PASSWORD": "operator-password",
    "MQTT_HA_PASSWORD": "home-assistant-pw",
}


@pytest.fixture
def compose_broker(tmp_path: Path):
    if dynsec_plugin() is None:
        pytest.skip("mosquitto's dynamic-security plugin is not installed")
    state = tmp_path / "dynamic-security.json"
    init = subprocess.run(
        [sys.executable, "-m", "stack.cli", "broker", "init", str(state)],
        env={**os.environ, **PASSWORDS}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    port = free_port()
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin())
    conf = conf.replace("/mosquitto/data", str(tmp_path))
    conf += "user root\n" if os.geteuid() == 0 else ""
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "mosquitto.conf")])
    assert wait_port_blocking(port, 10, still_alive=lambda: proc.poll() is None)
    yield f"mqtt://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


async def test_the_compose_broker_takes_each_service_login_and_no_anonymous_client(
    compose_broker,
):
    logins = {
        broker_acl.INGEST: PASSWORDS["MQTT_INGEST_PASSWORD"],
        broker_acl.ADMIN: PASSWORDS["MQTT_ADMIN_PASSWORD"],
        broker_acl.API: PASSWORDS["MQTT_API_PASSWORD"],
    }
    clients = [
        Client(with_login(compose_broker, user, pw), f"probe-{user}").start()
        for user, pw in logins.items()
    ]
    anonymous = Client(compose_broker, "probe-anonymous").start()
    try:
        await eventually(lambda: all(c.events for c in [*clients, anonymous]), 5, "answers")
        assert [c.events[0] for c in clients] == ["connect Success"] * 3
        assert anonymous.events[0] == "connect Not authorized"
    finally:
        for c in [*clients, anonymous]:
            c.stop()


async def test_an_embedded_broker_from_before_a_service_existed_gets_its_login(tmp_path: Path):
    """A data dir made before bandhub-ha existed: the next start adds its login."""
    import json

    from bandhub.contracts.messages import Topics
    from bandhub.principals.dynsec import BrokerAdmin
    from stack.embedded.broker import EmbeddedBroker

    if dynsec_plugin() is None:
        pytest.skip("mosquitto's dynamic-security plugin is not installed")
    broker = EmbeddedBroker(tmp_path / "broker")
    await broker.start()
    user = broker_acl.HOME_ASSISTANT
    with BrokerAdmin(broker.admin_url, Topics()) as admin:  # as an older bandhub made it
        admin.run(
            {"command": "deleteClient", "username": user},
            {"command": "deleteRole", "rolename": user},
        )
    await broker.stop()
    logins_file = tmp_path / "broker" / "service-logins.json"
    logins = json.loads(logins_file.read_text())
    del logins[user]
    logins_file.write_text(json.dumps(logins))

    again = EmbeddedBroker(tmp_path / "broker", broker.port)
    await again.start()
    try:
        probe = Client(again.url_for(user), "probe-ha").start()
        await eventually(lambda: probe.events, 5, "an answer")
        probe.stop()
        assert probe.events[0] == "connect Success"
    finally:
        await again.stop()
