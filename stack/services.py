"""Compose the system: services (embedded or configured) and the pipeline on top.

Used by ``bandhub demo`` and the end-to-end tests, so both run exactly the same
wiring: broker + database, migrations, ingest, the alert dispatcher, the API and a
gateway. On an embedded broker each service connects with its own login, and the
gateway is registered with credentials of its own and bound to the bands it is to
sync (what ``bandhub gateway register`` and ``pair`` do on a real installation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import psycopg

from bandhub.contracts.messages import Topics
from bandhub.db import migrate
from bandhub.principals import broker_acl, credentials
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.gateways import GatewayCredentials, bind_band, register_gateway
from bandhub.settings import Settings
from gateway.backend import BleBackend
from stack.embedded.broker import EmbeddedBroker
from stack.embedded.postgres import EmbeddedPostgres
from stack.ports import free_port, port_taken

log = logging.getLogger(__name__)


class SystemServices:
    """``async with SystemServices(settings) as system:`` starts what is not configured."""

    def __init__(self, settings: Settings, broker: EmbeddedBroker | None = None) -> None:
        """``broker``: an embedded broker already running (tests), whose service logins
        the services then use; else one is started unless BANDHUB_MQTT_URL is set."""
        self.settings = settings.model_copy()
        self._postgres: EmbeddedPostgres | None = None
        self.broker = broker
        self._own_broker = False
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.ingest = None
        self.monitor = None
        self.refresher = None
        self._backend = None

    @property
    def database_url_redacted(self) -> str:
        return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", self.settings.database_url)

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    async def __aenter__(self) -> SystemServices:
        data = self.settings.data_dir
        if not self.settings.database_url:
            self._postgres = EmbeddedPostgres(data / "postgres")
            self.settings.database_url = await asyncio.to_thread(self._postgres.start)
        if self.broker is None and not self.settings.mqtt_url:
            self.broker = EmbeddedBroker(
                data / "broker", topic_prefix=self.settings.mqtt_topic_prefix
            )
            await self.broker.start()
            self._own_broker = True
        if self.broker is not None:
            self.settings.mqtt_url = self.broker.anonymous_url  # each service adds its login
            self.settings.mqtt_admin_url = self.broker.admin_url
            if self.broker.kind == "amqtt":  # no shared subscriptions, no MQTT 5 there
                self.settings.ingest_share_group = ""
                self.settings.gateway_mqtt5 = False
        await asyncio.to_thread(migrate, self.settings.database_url)
        return self

    def service_settings(self, login: str) -> Settings:
        """Settings for one service, with its own broker login on an embedded broker."""
        if self.broker is None:
            return self.settings  # configured: one BANDHUB_MQTT_URL for the process
        return self.settings.model_copy(update={"mqtt_url": self.broker.url_for(login)})

    @property
    def broker_logins(self) -> bool:
        """Whether the broker has per-principal logins that bandhub administers."""
        return self.broker.enforces_acls if self.broker else bool(self.settings.mqtt_admin_url)

    def broker_admin(self) -> BrokerAdmin:
        """The dynamic-security admin; on a broker without it (amqtt, or an external one
        without BANDHUB_MQTT_ADMIN_URL) only the bindings messages are published."""
        s = self.settings
        dynsec = self.broker_logins
        url = s.mqtt_admin_url if dynsec else self.service_settings(broker_acl.OPERATOR).mqtt_url
        return BrokerAdmin(url, Topics(s.mqtt_topic_prefix), dynsec=dynsec)

    def enroll_gateway(
        self, gateway_id: str, bands: Iterable[str], data_dir: Path | None = None
    ) -> GatewayCredentials:
        """Register a gateway, bind ``bands`` to it and save its login in ``data_dir``
        (default: ours), where its process reads it."""
        with (
            psycopg.connect(self.settings.database_url, autocommit=True) as conn,
            self.broker_admin() as admin,
        ):
            creds = register_gateway(conn, admin, gateway_id)
            for band_id in bands:
                bind_band(conn, admin, gateway_id, band_id)
        credentials.save(
            data_dir or self.settings.data_dir, gateway_id, creds.username, creds.password
        )
        return creds

    async def start_pipeline(
        self,
        *,
        gateway_backend: str | BleBackend | None,
        set_band_clock: bool = True,
        bands: Iterable[str] = (),
    ) -> None:
        """Ingest, dispatcher, API and (unless ``gateway_backend`` is None) a gateway,
        registered and bound to ``bands`` when gateways need credentials."""
        from alerts.dispatcher import Dispatcher
        from alerts.monitor import MonitorService
        from api.server import serve_api
        from api.summary_refresh import SummaryRefresher
        from ingest.service import Ingest

        s = self.settings
        if not s.api_port or port_taken(s.api_port):
            s.api_port = free_port()
        self.ingest = Ingest(self.service_settings(broker_acl.INGEST))
        await asyncio.to_thread(self.ingest.start)
        self.monitor = MonitorService(self.service_settings(broker_acl.MONITOR))
        self.monitor.start()
        self.refresher = SummaryRefresher(s)
        self.refresher.start()
        self._tasks.append(asyncio.create_task(Dispatcher(s).run(self._stop)))
        api_settings = self.service_settings(broker_acl.API)
        self._tasks.append(asyncio.create_task(serve_api(api_settings, self._stop)))
        if s.ha_discovery:
            from ha_discovery.service import HaDiscovery

            ha = HaDiscovery(self.service_settings(broker_acl.HOME_ASSISTANT))
            self._tasks.append(asyncio.create_task(ha.run(self._stop)))
        if gateway_backend is not None:
            await self.start_gateway(gateway_backend, set_band_clock=set_band_clock, bands=bands)
        await _wait_http(self.api_url)

    async def start_gateway(
        self, backend: str | BleBackend, *, set_band_clock: bool = True, bands: Iterable[str] = ()
    ) -> asyncio.Task:
        from gateway.backend import open_backend
        from gateway.service import run_gateway

        if isinstance(backend, str):
            backend = await open_backend(backend)
        self._backend = backend
        gw_settings = self.settings.model_copy(update={"gateway_set_band_clock": set_band_clock})
        if gw_settings.gateway_auth:
            creds = await asyncio.to_thread(
                self.enroll_gateway, gw_settings.gateway_id, list(bands)
            )
            if self.broker_logins:  # else the broker would not know this login
                gw_settings.mqtt_url = creds.url(gw_settings.mqtt_url)
        else:
            gw_settings.mqtt_url = self.service_settings(broker_acl.OPERATOR).mqtt_url
        task = asyncio.create_task(run_gateway(gw_settings, backend, self._stop))
        self._tasks.append(task)
        return task

    async def __aexit__(self, *_exc) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 15)
        if self._backend is not None:
            with contextlib.suppress(Exception):
                await self._backend.close()
        if self.refresher is not None:
            await asyncio.to_thread(self.refresher.stop)
        if self.monitor is not None:
            await asyncio.to_thread(self.monitor.stop)
        if self.ingest is not None:
            await asyncio.to_thread(self.ingest.stop)
        if self._own_broker and self.broker is not None:
            await self.broker.stop()
        if self._postgres is not None:
            await asyncio.to_thread(self._postgres.stop)


async def _wait_http(url: str, timeout: float = 20.0) -> None:
    import httpx

    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url + "/openapi.json")).status_code == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"API did not come up at {url}")
            await asyncio.sleep(0.1)
