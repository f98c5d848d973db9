"""The API's side of gateways as principals: the same register / bind / revoke as the
CLI (``bandhub.principals.gateways``), run in a worker thread on a connection of its
own in autocommit, because each change commits only after the broker took its half.

The broker is administered with ``BANDHUB_MQTT_ADMIN_URL``. A URL without a login is a
broker without dynamic security (the embedded amqtt fallback): there bandhub only
publishes the gateways' bindings messages and the broker itself enforces nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg

from api.errors import ApiError
from bandhub.contracts.messages import Topics
from bandhub.principals.dynsec import BrokerAdmin, DynSecError
from bandhub.principals.gateways import GatewayError
from bandhub.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
Change = Callable[[psycopg.Connection, BrokerAdmin], T]


def _broker_admin(settings: Settings) -> BrokerAdmin:
    url = settings.mqtt_admin_url
    if not url:
        raise ApiError(
            503,
            "no_broker_admin",
            "this server cannot administer gateways: BANDHUB_MQTT_ADMIN_URL is not set",
        )
    dynsec = urlsplit(url).username is not None
    return BrokerAdmin(url, Topics(settings.mqtt_topic_prefix), dynsec=dynsec)


def _run(settings: Settings, change: Change[T]) -> T:
    with (
        psycopg.connect(settings.database_url, autocommit=True) as conn,
        _broker_admin(settings) as admin,
    ):
        return change(conn, admin)


async def apply(settings: Settings, change: Change[T]) -> T:
    """Run ``change(conn, admin)``; a refused change is a 409, a broker away a 503 (and
    then nothing changed: the database commits only after the broker)."""
    try:
        return await asyncio.to_thread(_run, settings, change)
    except GatewayError as exc:
        raise ApiError(409, "gateway_conflict", str(exc)) from exc
    except DynSecError as exc:
        raise ApiError(503, "broker_unreachable", f"the broker did not take it: {exc}") from exc


async def apply_or_log(settings: Settings, change: Change[T], what: str) -> T | None:
    """For clean-ups that must not stop the request (erasure, giving a band away): the
    database side is authoritative and ingest checks it again, so a broker away only
    delays the broker's half. Logged, not raised."""
    try:
        return await apply(settings, change)
    except ApiError as exc:
        log.warning("%s: %s", what, exc.message)
        return None
