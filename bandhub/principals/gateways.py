"""Gateways as principals: register, bind and unbind bands, revoke, list.

The database (``store``) is the record of who may publish for which band; the broker
(``dynsec``) enforces it; each change is made in both, the database transaction
committing only after the broker accepted its half. After every change the gateway's
retained bindings message (``{prefix}/gw/{id}/bands``) says which bands it may sync, so
it never reads records from a band the broker would refuse (they stay on the band).

The CLI (``bandhub gateway register|bind|revoke|list``) and the API call these.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import psycopg

from bandhub.contracts.messages import BAND_ID_PATTERN, GatewayBindings
from bandhub.principals import broker_acl, store
from bandhub.principals.credentials import with_login
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.store import GatewayRow

log = logging.getLogger(__name__)


class GatewayError(ValueError):
    """A gateway request that cannot be done; the message says why, for the user."""


@dataclass(frozen=True)
class GatewayCredentials:
    """Shown once, at registration: only a hash of the password is kept."""

    gateway_id: str
    username: str
    password: str

    def url(self, broker_url: str) -> str:
        """``broker_url`` with this gateway's login in it (BANDHUB_MQTT_URL of the gateway)."""
        return with_login(broker_url, self.username, self.password)


def _need_autocommit(conn: psycopg.Connection) -> None:
    """Each change commits on its own, after the broker took its half."""
    if not conn.autocommit:
        raise GatewayError("pass a connection in autocommit mode")


def _check_id(kind: str, value: str) -> None:
    if not re.fullmatch(BAND_ID_PATTERN, value):
        raise GatewayError(f"{kind} {value!r} must match {BAND_ID_PATTERN}")


def _active(conn: psycopg.Connection, gateway_id: str) -> GatewayRow:
    row = store.get(conn, gateway_id)
    if row is None or row.registered_at is None:
        raise GatewayError(f"gateway {gateway_id!r} is not registered")
    if row.revoked_at is not None:
        raise GatewayError(f"gateway {gateway_id!r} was revoked")
    return row


def _announce(admin: BrokerAdmin, conn: psycopg.Connection, gateway_id: str) -> None:
    row = store.get(conn, gateway_id)
    bands = row.bands if row is not None and row.active else []
    msg = GatewayBindings(v=1, gateway_id=gateway_id, bands=bands, at=time.time())
    admin.publish_bindings(gateway_id, msg.model_dump_json())


def register_gateway(
    conn: psycopg.Connection,
    admin: BrokerAdmin | None,
    gateway_id: str,
    *,
    account_id: int | None = None,
) -> GatewayCredentials:
    """A new login for the gateway (a registered one gets a new password: its old one
    stops working, its bindings stay). A revoked id stays revoked: use a new id. With
    ``account_id``, a gateway registered to another account is refused."""
    _need_autocommit(conn)
    _check_id("gateway id", gateway_id)
    row = store.get(conn, gateway_id)
    if row is not None and row.revoked_at is not None:
        raise GatewayError(f"gateway {gateway_id!r} was revoked; register it under a new id")
    if (
        account_id is not None
        and row is not None
        and row.registered_at is not None
        and row.account_id not in (None, account_id)
    ):
        raise GatewayError(f"gateway id {gateway_id!r} is registered to someone else")
    creds = GatewayCredentials(
        gateway_id, broker_acl.gateway_username(gateway_id), broker_acl.new_password()
    )
    with conn.transaction():
        store.save_registration(conn, gateway_id, creds.username, creds.password, account_id)
        if admin is not None:
            admin.put_gateway(gateway_id, creds.password, row.bands if row else [])
    if admin is not None:
        _announce(admin, conn, gateway_id)
    log.info("gateway %s registered (login %s)", gateway_id, creds.username)
    return creds


def _set_binding(
    conn: psycopg.Connection, admin: BrokerAdmin | None, gateway_id: str, band_id: str, bound: bool
) -> bool:
    _need_autocommit(conn)
    _check_id("band id", band_id)
    with conn.transaction():
        _active(conn, gateway_id)
        changed = store.set_binding(conn, gateway_id, band_id, bound)
        if admin is not None and changed:
            admin.set_band(gateway_id, band_id, bound)
    if admin is not None:
        _announce(admin, conn, gateway_id)
    return changed


def bind_band(
    conn: psycopg.Connection, admin: BrokerAdmin | None, gateway_id: str, band_id: str
) -> bool:
    """Let the gateway publish for the band and receive its commands; True if new."""
    return _set_binding(conn, admin, gateway_id, band_id, True)


def unbind_band(
    conn: psycopg.Connection, admin: BrokerAdmin | None, gateway_id: str, band_id: str
) -> bool:
    """Take the band away from the gateway, at once; True if it was bound."""
    return _set_binding(conn, admin, gateway_id, band_id, False)


def revoke_gateway(conn: psycopg.Connection, admin: BrokerAdmin | None, gateway_id: str) -> bool:
    """Cut the gateway off: its login is deleted (the broker disconnects it now and
    refuses it from then on), its bindings go, and ingest refuses its records."""
    _need_autocommit(conn)
    row = store.get(conn, gateway_id)
    if row is None or not row.active:
        return False
    with conn.transaction():
        store.mark_revoked(conn, gateway_id)
        if admin is not None:
            admin.remove_gateway(gateway_id)
    if admin is not None:
        admin.publish_bindings(gateway_id, None)
    log.warning("gateway %s revoked", gateway_id)
    return True


def unbind_everywhere(
    conn: psycopg.Connection,
    admin: BrokerAdmin | None,
    band_id: str,
    *,
    account_id: int | None = None,
) -> list[str]:
    """Take the band away from every gateway (of ``account_id`` only, if given): when it
    is erased or changes hands. Returns the gateways it was bound to."""
    gateways = store.gateways_of_band(conn, band_id, account_id)
    for gateway_id in gateways:
        unbind_band(conn, admin, gateway_id, band_id)
    return gateways


def list_gateways(conn: psycopg.Connection) -> list[GatewayRow]:
    """Every gateway bandhub knows: registered ones (active or revoked) and ones only
    seen through their status messages, each with its bound bands."""
    return store.list_all(conn)
