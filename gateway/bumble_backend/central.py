"""The gateway's bumble host: one central ``Device`` per process, shared by all bands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from bandhub.bumble_keys import BlindJsonKeyStore, BlindMemoryKeyStore
from bandhub.bumble_radio import VirtualController

_CENTRAL_ADDRESS = "C0:FF:EE:00:00:01"

PasskeySource = Callable[[], Awaitable[int]]


class _PasskeyEntry(PairingDelegate):
    """The gateway's keyboard while pairing one band: the user types the passkey the
    band shows. Without one, the gateway has no input or output (Just Works)."""

    def __init__(self, ask: PasskeySource) -> None:
        super().__init__(io_capability=PairingDelegate.KEYBOARD_INPUT_ONLY)
        self._ask = ask

    async def get_number(self) -> int | None:
        return await self._ask()


Opener = Callable[[], Awaitable[tuple[Device, Any]]]  # a fresh (device, transport)


class BumbleCentral:
    """A bumble ``Device`` acting as central, on a LocalLink or an HCI transport."""

    def __init__(self, device: Device, transport: Any = None, opener: Opener | None = None):
        self._opener = opener
        self._started = False
        # bumble's virtual controller handles one LE connection attempt at a time
        self.connect_lock = asyncio.Lock()
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()
        self.passkey_entry: dict[int, PasskeySource] = {}  # by id() of the connection
        self.reopened = 0
        self._adopt(device, transport)

    def _adopt(self, device: Device, transport: Any) -> None:
        self.device = device
        self._transport = transport
        if device.keystore is None:
            device.keystore = BlindMemoryKeyStore()
        device.pairing_config_factory = self._pairing_config

    def _pairing_config(self, connection) -> PairingConfig:
        ask = self.passkey_entry.get(id(connection))
        delegate = _PasskeyEntry(ask) if ask else PairingDelegate()
        # The gateway's identity is its own static random address, which it keeps when
        # its controller (or the virtual radio's port, and with it the public address)
        # changes: bands file the bond under the address they see the gateway connect from.
        return PairingConfig(
            sc=True, mitm=True, bonding=True, delegate=delegate,
            identity_address_type=PairingConfig.AddressType.RANDOM,
        )  # fmt: skip

    @classmethod
    def local(cls, link: LocalLink, address: str = _CENTRAL_ADDRESS) -> BumbleCentral:
        def build() -> Device:
            controller = VirtualController("gateway", link=link, public_address=address)
            controller.le_acl_data_packet_length = 251
            controller.acl_data_packet_length = 251
            host = Host(controller, AsyncPipeSink(controller))
            return Device(name="bandhub-gateway", address=Address(address), host=host)

        async def reopen() -> tuple[Device, Any]:
            for controller in [c for c in link.controllers if c.name == "gateway"]:
                link.remove_controller(controller)  # the old radio leaves the air
            return build(), None

        return cls(build(), opener=reopen)

    @classmethod
    async def open(
        cls, spec: str, address: str = _CENTRAL_ADDRESS, bonds_file: Path | None = None
    ) -> BumbleCentral:
        """Open an HCI transport (``tcp-client:HOST:PORT``, ``usb:0``, ...); bonds go to
        ``bonds_file`` (JSON) when given, so they survive a restart."""

        async def opener() -> tuple[Device, Any]:
            transport = await open_transport(spec)
            device = Device.with_hci(
                "bandhub-gateway", Address(address), transport.source, transport.sink
            )
            if bonds_file is not None:
                bonds_file.parent.mkdir(parents=True, exist_ok=True)
                device.keystore = BlindJsonKeyStore(None, str(bonds_file))
            return device, transport

        return cls(*await opener(), opener=opener)

    async def reopen(self) -> None:
        """The watchdog's adapter reset: let go of the controller (close its HCI
        transport), open it afresh and power it on, keeping the bonds."""
        if self._opener is None:
            return
        keystore = self.device.keystore
        await self.close()
        device, transport = await self._opener()
        if device.keystore is None:  # in memory: carry the bonds over
            device.keystore = keystore
        self._adopt(device, transport)
        self._started = False
        self._scan_users = 0
        await self.start()
        self.reopened += 1

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
            # bounded: bumble waits for a disconnection event a vanished peer never sends
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(conn.disconnect(), 2.0)
        if self._transport is not None:
            await self._transport.close()
