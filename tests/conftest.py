"""Shared fixtures: real services, never mocks.

* ``database_url`` (session): a throwaway database created for this test run on the
  PostgreSQL at ``BANDHUB_TEST_DATABASE_URL`` (default: 127.0.0.1:5432 when it answers),
  else on an embedded PostgreSQL; dropped at the end. Each test that needs a clean
  slate gets ``clean_db``.
* ``broker`` (function): our own mosquitto (or amqtt) on a free port with the
  project's config, restartable with ``await broker.restart()``: dynamic security on,
  so no anonymous clients; ``broker.url`` is the operator login (every bandhub topic),
  ``broker.url_for(login)`` a service's, ``broker.admin_url`` the admin's.
* ``settings``: a ``Settings`` pointing at both, with a temp data dir. It connects
  with the operator login and turns ``gateway_auth`` off, so the tests of one part can
  publish as any gateway; tests/principals and tests/e2e turn it on.
* ``api``: an httpx client on the real API (uvicorn on a free port) for ``settings``,
  not signed in; ``owner``: a signed-in account (``owner.client``) that owns the bands
  its test gives it (``owner.own(url, "BH-0001")``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from api.server import serve_api
from bandhub.db import migrate
from bandhub.settings import Settings
from stack.embedded.broker import EmbeddedBroker
from stack.ports import free_port

_DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _server_url(tmp_factory) -> tuple[str, object]:
    url = os.environ.get("BANDHUB_TEST_DATABASE_URL", _DEFAULT_SERVER)
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url, None
    except psycopg.OperationalError:
        from stack.embedded.postgres import EmbeddedPostgres

        data = Path("/var/tmp") / f"bandhub-test-pg-{os.getpid()}"
        pg = EmbeddedPostgres(data, database="postgres")
        return pg.start(), pg


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    server, embedded = _server_url(tmp_path_factory)
    name = f"bandhub_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**info)
    migrate(url)
    yield url
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    if embedded is not None:
        embedded.stop()


@pytest.fixture
def clean_db(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE bands, hr, hr_blocks, epochs, falls, buttons, battery, dead_letters,"
            " contacts, alerts, deliveries, accounts, organisations, audit_log, rate_counters,"
            " ingest_sessions, hr_1m, hr_1h, band_days, day_summaries, erasures,"
            " gateways, gateway_bands, band_status, firmware_releases, firmware_groups,"
            " band_firmware"
            " RESTART IDENTITY CASCADE"
        )
    return database_url


@pytest.fixture
async def broker(tmp_path: Path):
    b = EmbeddedBroker(tmp_path / "broker")
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
def settings(clean_db: str, broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return Settings(
        database_url=clean_db,
        mqtt_url=broker.url,
        mqtt_admin_url=broker.admin_url,
        gateway_auth=False,
        data_dir=tmp_path / "data",
        fall_countdown_s=0,
        ingest_batch_wait_s=0.05,
        # simulated band clocks run many times faster than real time on purpose
        ingest_max_future_s=10 * 365 * 86400.0,
        _env_file=None,
    )


@pytest.fixture
async def api(settings):
    settings.api_port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_api(settings, stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}") as http:
        for _ in range(100):
            try:
                await http.get("/openapi.json")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        yield http
    stop.set()
    await task


@pytest.fixture
async def owner(api, settings):
    from tests.people import person

    ann = await person(str(api.base_url), settings.database_url, "ann@example.com")
    yield ann
    await ann.aclose()


@pytest.fixture
async def support(api, settings):
    """Sam from bandhub support (the firmware catalogue, diagnostics)."""
    from tests.people import person

    sam = await person(str(api.base_url), settings.database_url, "sam@bandhub.example",
                       support=True)  # fmt: skip
    yield sam
    await sam.aclose()
