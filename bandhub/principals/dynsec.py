"""Administer mosquitto's dynamic-security plugin over ``$CONTROL/dynamic-security/v1``.

The plugin keeps logins, roles and ACLs and applies a change at once, without a
restart: deleting a client disconnects it, and a role's ACLs are checked on every
publish and delivery. Bandhub talks to it as the ``bandhub-admin`` login
(``BANDHUB_MQTT_ADMIN_URL``). Requests are answered on ``…/v1/response``; each carries
a correlation id so an answer is matched to its request.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable

import paho.mqtt.client as mqtt

from bandhub.contracts.messages import Topics
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.principals import broker_acl

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = CONTROL + "/response"


class DynSecError(RuntimeError):
    """The broker refused or did not answer an admin command."""


class BrokerAdmin:
    """``with BrokerAdmin(url, topics) as admin:`` one admin connection, synchronous calls.

    ``dynsec=False`` is for a broker without the plugin (the embedded amqtt fallback):
    the ACL calls do nothing, and only the gateways' bindings messages are published."""

    def __init__(
        self, admin_url: str, topics: Topics, *, dynsec: bool = True, timeout_s: float = 10.0
    ) -> None:
        self.url = admin_url
        self.topics = topics
        self.dynsec = dynsec
        self.timeout_s = timeout_s
        self._client = mqtt_client(admin_url, f"bandhub-admin-{uuid.uuid4().hex[:12]}")
        self._client.on_message = self._on_message
        self._answers: dict[str, list[dict]] = {}
        self._arrived = threading.Condition()

    def __enter__(self) -> BrokerAdmin:
        host, port = broker_address(self.url)
        subscribed = threading.Event()
        refused: list[str] = []

        def on_connect(client, _u, _f, reason_code, _p) -> None:
            if reason_code.is_failure:
                refused.append(str(reason_code))
                subscribed.set()
                return
            if not self.dynsec:
                subscribed.set()
                return
            client.subscribe(RESPONSE, qos=1)

        def on_subscribe(_c, _u, _mid, codes, _p) -> None:
            if any(rc.is_failure for rc in codes):
                refused.append("the admin login may not read dynamic-security responses")
            subscribed.set()

        self._client.on_connect = on_connect
        self._client.on_subscribe = on_subscribe
        try:
            self._client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise DynSecError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
        self._client.loop_start()
        if not subscribed.wait(self.timeout_s) or refused:
            self.__exit__()
            raise DynSecError(f"broker admin login failed: {', '.join(refused) or 'timeout'}")
        return self

    def __exit__(self, *_exc) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._arrived:
            for r in responses:
                self._answers.setdefault(str(r.get("correlationData", "")), []).append(r)
            self._arrived.notify_all()

    def run(self, *commands: dict, ok_errors: Iterable[str] = ()) -> list[dict]:
        """Send commands in one request; raise on any error except those in ``ok_errors``
        (e.g. "Client not found" when deleting what is already gone)."""
        if not commands or not self.dynsec:
            return []
        cid = uuid.uuid4().hex
        tagged = [{**c, "correlationData": f"{cid}-{i}"} for i, c in enumerate(commands)]
        self._client.publish(CONTROL, json.dumps({"commands": tagged}), qos=1)
        keys = [c["correlationData"] for c in tagged]
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: all(k in self._answers for k in keys), self.timeout_s
            ):
                raise DynSecError(
                    f"no answer from the broker to {[c['command'] for c in commands]}"
                )
            answers = [self._answers.pop(k)[0] for k in keys]
        allowed = set(ok_errors)
        for command, answer in zip(commands, answers, strict=True):
            if answer.get("error") and answer["error"] not in allowed:
                raise DynSecError(f"{command['command']}: {answer['error']}")
        return answers

    # --- what bandhub does with it --------------------------------------------------

    def put_gateway(self, gateway_id: str, password: str, bands: Iterable[str]) -> None:
        """Create (or re-create with a new password) the gateway's login and role."""
        self.remove_gateway(gateway_id)
        name = broker_acl.gateway_username(gateway_id)
        self.run(
            {
                "command": "createRole",
                "rolename": name,
                "acls": broker_acl.gateway_acls(self.topics, gateway_id, bands),
            },
            {
                "command": "createClient",
                "username": name,
                "password": password,
                "clientid": broker_acl.gateway_client_id(gateway_id),
                "textname": f"bandhub gateway {gateway_id}",
                "roles": [{"rolename": name}],
            },
        )

    def set_band(self, gateway_id: str, band_id: str, bound: bool) -> None:
        """Add or remove one band's ACLs in the gateway's role; effective at once."""
        name = broker_acl.gateway_username(gateway_id)
        acls = broker_acl.band_acls(self.topics, band_id)
        if bound:
            self.run(
                *({"command": "addRoleACL", "rolename": name, **a} for a in acls),
                ok_errors=("ACL with this topic already exists",),
            )
        else:
            self.run(
                *(
                    {"command": "removeRoleACL", "rolename": name, "acltype": a["acltype"],
                     "topic": a["topic"]}
                    for a in acls
                ),
                ok_errors=("ACL not found",),
            )  # fmt: skip

    def remove_gateway(self, gateway_id: str) -> None:
        """Delete the gateway's login (which disconnects it now) and its role."""
        name = broker_acl.gateway_username(gateway_id)
        self.run(
            {"command": "deleteClient", "username": name},
            {"command": "deleteRole", "rolename": name},
            ok_errors=("Client not found", "Role not found"),
        )

    def publish_bindings(self, gateway_id: str, payload: str | None) -> None:
        """The gateway's retained bindings message (None clears it)."""
        info = self._client.publish(
            self.topics.gateway_bindings(gateway_id), payload or b"", qos=1, retain=True
        )
        info.wait_for_publish(self.timeout_s)

    def gateway_logins(self) -> set[str]:
        """The usernames the broker has, gateways and services alike."""
        [answer] = self.run({"command": "listClients", "verbose": False})
        return set(answer.get("data", {}).get("clients", []))
