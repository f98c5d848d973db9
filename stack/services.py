"""Compose the system: services (embedded or configured) and the pipeline on top.

Used by ``bandhub demo`` and the end-to-end tests, so both run exactly the same
wiring: broker + database, migrations, ingest, the alert dispatcher, the API and a
gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from bandhub.db import migrate
from bandhub.settings import Settings
from gateway.backend import BleBackend
from stack.embedded.broker import EmbeddedBroker
from stack.embedded.postgres import EmbeddedPostgres
from stack.ports import free_port, port_taken

log = logging.getLogger(__name__)


class SystemServices:
    """``async with SystemServices(settings) as system:`` starts what is not configured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy()
        self._postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.ingest = None
        self.monitor = None
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
        if not self.settings.mqtt_url:
            self.broker = EmbeddedBroker(data / "broker")
            await self.broker.start()
            self.settings.mqtt_url = self.broker.url
            if self.broker.kind == "amqtt":  # no shared subscriptions there
                self.settings.ingest_share_group = ""
        await asyncio.to_thread(migrate, self.settings.database_url)
        return self

    async def start_pipeline(
        self, *, gateway_backend: str | BleBackend | None, set_band_clock: bool = True
    ) -> None:
        """Ingest, dispatcher, API and (unless ``gateway_backend`` is None) a gateway."""
        from alerts.dispatcher import Dispatcher
        from alerts.monitor import MonitorService
        from api.server import serve_api
        from ingest.service import Ingest

        s = self.settings
        if not s.api_port or port_taken(s.api_port):
            s.api_port = free_port()
        self.ingest = Ingest(s)
        await asyncio.to_thread(self.ingest.start)
        self.monitor = MonitorService(s)
        self.monitor.start()
        self._tasks.append(asyncio.create_task(Dispatcher(s).run(self._stop)))
        self._tasks.append(asyncio.create_task(serve_api(s, self._stop)))
        if gateway_backend is not None:
            await self.start_gateway(gateway_backend, set_band_clock=set_band_clock)
        await _wait_http(self.api_url)

    async def start_gateway(
        self, backend: str | BleBackend, *, set_band_clock: bool = True
    ) -> asyncio.Task:
        from gateway.backend import open_backend
        from gateway.service import run_gateway

        if isinstance(backend, str):
            backend = await open_backend(backend)
        self._backend = backend
        gw_settings = self.settings.model_copy(update={"gateway_set_band_clock": set_band_clock})
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
        if self.monitor is not None:
            await asyncio.to_thread(self.monitor.stop)
        if self.ingest is not None:
            await asyncio.to_thread(self.ingest.stop)
        if self.broker is not None:
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
