"""A third-party heart-rate strap: only the standard Heart Rate Service (0x180D), as
chest straps and many watches expose it. No record log, no serial number: what a
bandhub gateway must still accept as a heart-rate-only device."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from bandhub.contracts import gatt as g

log = logging.getLogger(__name__)


class HeartRateStrap:
    """Notifies a Heart Rate Measurement (with RR intervals) once a second."""

    def __init__(self, link: LocalLink, address: str, name: str = "HRM Pro", bpm: int = 72):
        self.bpm = bpm
        self.sent = 0
        controller = Controller(f"ctl-{name}", link=link, public_address=address)
        host = Host(controller, AsyncPipeSink(controller))
        self.device = Device(name=name, address=Address(address), host=host)
        self.hr = Characteristic(
            g.HEART_RATE_MEASUREMENT, Characteristic.Properties.NOTIFY, 0, CharacteristicValue()
        )
        self.device.add_services([Service(g.HEART_RATE_SERVICE, [self.hr])])
        self._connection: Connection | None = None
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self._task: asyncio.Task | None = None
        self.name = name

    async def start(self) -> None:
        await self.device.power_on()
        adv = AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x0d\x18"),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            ]
        )
        await self.device.start_advertising(advertising_data=bytes(adv), auto_restart=True)
        self._task = asyncio.create_task(self._beat())

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, lambda _r: self._gone())

    def _gone(self) -> None:
        self._connection = None

    async def _beat(self) -> None:
        rr = round(60 / self.bpm * 1024)
        while True:
            await asyncio.sleep(1.0)
            if self._connection is None:
                continue
            value = g.encode_heart_rate(g.HeartRateMeasurement(self.bpm, (rr,), True))
            try:
                await self.device.notify_subscriber(self._connection, self.hr, value)
                self.sent += 1
            except Exception as exc:  # the central may not have subscribed yet
                log.debug("strap notify failed: %s", exc)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.disconnect(), 5)
