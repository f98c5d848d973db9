"""The gateway's bumble host: one central ``Device`` per process, shared by all bands."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.keys import JsonKeyStore
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

_CENTRAL_ADDRESS = "C0:FF:EE:00:00:01"


class BumbleCentral:
    """A bumble ``Device`` acting as central, on a LocalLink or an HCI transport."""

    def __init__(self, device: Device, transport: Any = None) -> None:
        self.device = device
        self._transport = transport
        self._started = False
        # bumble's virtual controller handles one LE connection attempt at a time
        self.connect_lock = asyncio.Lock()
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()

    @classmethod
    def local(cls, link: LocalLink, address: str = _CENTRAL_ADDRESS) -> BumbleCentral:
        controller = Controller("gateway", link=link, public_address=address)
        controller.le_acl_data_packet_length = 251
        controller.acl_data_packet_length = 251
        host = Host(controller, AsyncPipeSink(controller))
        return cls(Device(name="bandhub-gateway", address=Address(address), host=host))

    @classmethod
    async def open(
        cls, spec: str, address: str = _CENTRAL_ADDRESS, bonds_file: Path | None = None
    ) -> BumbleCentral:
        """Open an HCI transport (``tcp-client:HOST:PORT``, ``usb:0``, ...); bonds go to
        ``bonds_file`` (JSON) when given, so they survive a restart."""
        transport = await open_transport(spec)
        device = Device.with_hci(
            "bandhub-gateway", Address(address), transport.source, transport.sink
        )
        if bonds_file is not None:
            bonds_file.parent.mkdir(parents=True, exist_ok=True)
            device.keystore = JsonKeyStore(None, str(bonds_file))
        return cls(device, transport)

    async def start(self) -> None:
        if not self._started:
            await self.device.power_on()
            self._started = True

    async def acquire_scan(self) -> None:
        async with self._scan_lock:
            self._scan_users += 1
            if self._scan_users == 1:
                await self.device.start_scanning(active=True, filter_duplicates=False)

    async def release_scan(self) -> None:
        async with self._scan_lock:
            self._scan_users = max(0, self._scan_users - 1)
            if self._scan_users == 0 and self.device.scanning:
                with contextlib.suppress(Exception):
                    await self.device.stop_scanning()

    async def close(self) -> None:
        for conn in list(self.device.connections.values()):
            with contextlib.suppress(Exception):
                await conn.disconnect()
        if self._transport is not None:
            await self._transport.close()
