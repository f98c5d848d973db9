"""The broker rights of every principal, as mosquitto dynamic-security ACLs.

Pure data, no I/O: ``gateway_acls`` for one gateway and its bound bands, ``SERVICE_ACLS``
for bandhub's own services, and ``initial_config`` for a fresh broker (the plugin needs
its JSON file to exist before it starts). docs/mqtt.md "Credentials and ACLs" is the
human version of this file; keep them in step.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable

from bandhub.contracts.home_assistant import HaTopics
from bandhub.contracts.messages import Topics

Acl = dict[str, object]

ADMIN = "bandhub-admin"
INGEST = "bandhub-ingest"
MONITOR = "bandhub-monitor"
API = "bandhub-api"
OPERATOR = "bandhub-operator"
HOME_ASSISTANT = "bandhub-ha"
SERVICE_USERS = (ADMIN, INGEST, MONITOR, API, OPERATOR, HOME_ASSISTANT)

# everything not allowed by a role is denied, receiving included: a client only ever
# receives what its role lists, whatever it managed to subscribe to
DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


def _acl(acltype: str, topic: str, allow: bool = True) -> Acl:
    return {"acltype": acltype, "topic": topic, "allow": allow, "priority": 0}


def _send(*topics: str) -> list[Acl]:
    return [_acl("publishClientSend", t) for t in topics]


def _read(*topics: str) -> list[Acl]:
    """Subscribe to each filter and receive what matches it."""
    out: list[Acl] = []
    for t in topics:
        out += [_acl("subscribePattern", t), _acl("publishClientReceive", t)]
    return out


def gateway_username(gateway_id: str) -> str:
    """Gateway logins are ``gateway-<id>``; service logins start with ``bandhub-``."""
    return f"gateway-{gateway_id}"


def gateway_client_id(gateway_id: str) -> str:
    """The one MQTT client id a gateway's login may use (what gateway.mqtt_publisher sets)."""
    return f"bandhub-gw-{gateway_id}"


def band_acls(topics: Topics, band_id: str) -> list[Acl]:
    """What a gateway bound to ``band_id`` may do for it: publish its records, rejected
    data, status, live values and command results; receive its commands."""
    band = f"{topics.prefix}/band/{band_id}"
    return [
        *_send(f"{band}/rec/+", f"{band}/rejected", f"{band}/status", f"{band}/live/+"),
        *_send(f"{band}/cmd/result"),
        _acl("subscribeLiteral", f"{band}/cmd"),
        _acl("publishClientReceive", f"{band}/cmd"),
    ]


def gateway_acls(topics: Topics, gateway_id: str, bands: Iterable[str]) -> list[Acl]:
    """The whole role of one gateway: its own status and bindings, and its bands."""
    acls = [
        *_send(topics.gateway_status(gateway_id)),
        _acl("subscribeLiteral", topics.gateway_bindings(gateway_id)),
        _acl("publishClientReceive", topics.gateway_bindings(gateway_id)),
        # the gateway subscribes to every band's commands with one filter; it receives
        # only those of its bands (publishClientReceive above, per band)
        _acl("subscribeLiteral", topics.commands_filter()),
    ]
    for band_id in sorted(set(bands)):
        acls += band_acls(topics, band_id)
    return acls


def home_assistant_acls(ha: HaTopics) -> list[Acl]:
    """What the Home Assistant discovery service (``bandhub ha-discovery``) may do: write
    bandhub devices' discovery configs (and read them back, its record of what it
    published), the states and availability under ``P/ha/``, hear Home Assistant's
    birth message and button presses, and send the find_band command a press becomes."""
    configs = ha.config_filters()
    return [
        *_send(*configs, ha.ha_filter()),
        *_read(*configs, ha.birth(), ha.commands_filter()),
        *_send(Topics(ha.prefix).commands_filter()),
    ]


def home_assistant_client_acls(ha: HaTopics) -> list[Acl]:
    """A role for Home Assistant's own login (made by the operator, docs/home-assistant.md):
    the discovery configs and bandhub's ``P/ha/`` topics, its birth message, and the
    button presses; nothing of the bands' records, statuses or commands."""
    return [
        *_read(f"{ha.discovery_prefix}/#", ha.ha_filter()),
        *_send(f"{ha.discovery_prefix}/status", ha.commands_filter()),
    ]


def service_acls(topics: Topics, discovery_prefix: str = "homeassistant") -> dict[str, list[Acl]]:
    """The role of each bandhub service login."""
    p = topics.prefix
    return {
        ADMIN: [
            *_read("$CONTROL/dynamic-security/#"),
            *_send("$CONTROL/dynamic-security/#", f"{p}/gw/+/bands"),
        ],
        INGEST: [
            *_read(topics.records_filter(), topics.band_status_filter()),
            # workers that split the records (BANDHUB_INGEST_SHARE_GROUP): mosquitto checks
            # a shared subscription against its whole $share/<group>/... filter
            _acl("subscribePattern", f"$share/+/{topics.records_filter()}"),
            *_read(topics.gateway_status_filter()),
            *_send(topics.commands_filter()),  # the fall countdown on the band
        ],
        MONITOR: _send(topics.commands_filter()),  # the sedentary reminder
        API: [
            *_send(topics.commands_filter()),
            *_read(topics.command_results_filter(), f"{p}/band/+/live/+"),
            *_read(topics.band_status_filter(), topics.gateway_status_filter()),
        ],
        # every bandhub topic, for tools and tests; never hand it to a device
        OPERATOR: [*_read(f"{p}/#"), _acl("subscribePattern", f"$share/+/{p}/#"), *_send(f"{p}/#")],
        HOME_ASSISTANT: home_assistant_acls(HaTopics(p, discovery_prefix)),
    }


def new_password() -> str:
    """A generated broker password: 32 random bytes, URL-safe (fits in BANDHUB_MQTT_URL)."""
    return secrets.token_urlsafe(32)


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = 101) -> dict:
    """The password fields of a dynamic-security client (PBKDF2-SHA512, as the plugin
    computes it), for writing ``initial_config``; at run time the plugin hashes itself."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def initial_config(
    topics: Topics, passwords: dict[str, str], discovery_prefix: str = "homeassistant"
) -> dict:
    """The plugin's JSON for a fresh broker: one login and role per bandhub service."""
    roles = service_acls(topics, discovery_prefix)
    return {
        "defaultACLAccess": DEFAULT_ACCESS,
        "clients": [
            {
                "username": user,
                "textname": f"bandhub service {user}",
                "roles": [{"rolename": user}],
                **mosquitto_hash(passwords[user]),
            }
            for user in SERVICE_USERS
        ],
        "roles": [{"rolename": user, "acls": roles[user]} for user in SERVICE_USERS],
        "groups": [],
    }
