"""bleak client backend on a bumble central: GATT over a bumble ``Peer``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import hci
from bumble.device import Connection, Peer
from bumble.gatt import Characteristic
from bumble.hci import Address

from gateway.bumble_backend.central import BumbleCentral, PasskeySource
from gateway.bumble_backend.scanner import bleak_uuid

log = logging.getLogger(__name__)
T = TypeVar("T")

_MTU = 247
_PROPS = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}


class BumbleClient(BaseBleakClient):
    central: BumbleCentral  # set by bumble_backends()

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("bluez", None)
        kwargs.pop("winrt", None)
        super().__init__(address_or_ble_device, **kwargs)
        if isinstance(address_or_ble_device, BLEDevice) and isinstance(
            address_or_ble_device.details, Address
        ):
            self._peer_address = address_or_ble_device.details
        else:
            self._peer_address = Address(self.address)
        self._connection: Connection | None = None
        self._peer: Peer | None = None

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        timeout = kwargs.get("timeout", self._timeout)
        device = self.central.device
        async with self.central.connect_lock:
            try:
                # bounded here: a band that vanished never answers, and bumble's own
                # timeout waits for a cancel confirmation some controllers never send
                conn = await asyncio.wait_for(device.connect(self._peer_address), timeout)
            except TimeoutError:
                # cancel in the controller too, or it refuses every later connection
                # attempt (COMMAND_DISALLOWED) while this one stays pending
                with contextlib.suppress(Exception):
                    cancel = hci.HCI_LE_Create_Connection_Cancel_Command()
                    await asyncio.wait_for(device.send_command(cancel), 2.0)
                device.le_connecting = False
                raise BleakError(f"Device with address {self.address} was not found") from None
        self._connection = conn
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(conn)
            await peer.request_mtu(_MTU)
            await peer.discover_services()
            await peer.discover_characteristics()
            for service in peer.services:
                for char in service.characteristics:
                    await peer.discover_descriptors(char)
            self._peer = peer
            self.services = self._service_collection(peer)
            if pair:
                await self.pair()
        except Exception:
            await self.disconnect()
            raise

    def _service_collection(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for svc in peer.services:
            bservice = BleakGATTService(svc, svc.handle, bleak_uuid(svc.uuid))
            collection.add_service(bservice)
            for char in svc.characteristics:
                props = [name for flag, name in _PROPS.items() if char.properties & flag]
                bchar = BleakGATTCharacteristic(
                    char, char.handle, bleak_uuid(char.uuid), props,
                    lambda: self.mtu_size - 3, bservice,
                )  # fmt: skip
                collection.add_characteristic(bchar)
                for desc in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type), bchar)
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        log.debug("%s disconnected (reason 0x%02x)", self.address, reason)
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        conn = self._connection
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.disconnect(), 5.0)
        self._connection = None
        self._peer = None

    async def pair(self, *args: Any, passkey: PasskeySource | None = None, **kwargs: Any) -> None:
        """Bond, or re-encrypt with the stored bond. ``passkey`` supplies the passkey the
        band shows (passkey entry); without it, a new bond is Just Works."""
        conn = self._connection
        if conn is None:
            raise BleakError("not connected")
        keystore = self.central.device.keystore
        if passkey is None and keystore and await keystore.get(str(conn.peer_address)):
            try:
                await self._on_link(conn.encrypt())
                return
            except Exception as exc:  # the band forgot us (reset): forget it too, bond again
                log.info("%s: stored bond not accepted (%s); pairing again", self.address, exc)
                with contextlib.suppress(Exception):
                    await keystore.delete(str(conn.peer_address))
                if self._connection is None:
                    raise BleakError(f"{self.address} dropped the link: bond again") from exc
        if passkey is not None:
            self.central.passkey_entry[id(conn)] = passkey
        try:
            await self._on_link(conn.pair())
        finally:
            self.central.passkey_entry.pop(id(conn), None)

    async def unpair(self) -> None:
        raise NotImplementedError("use `bandhub gateway unpair`, which forgets the bond file entry")

    async def _on_link(self, operation: Awaitable[T]) -> T:
        """Await a GATT/SMP operation. bumble cancels what was pending when the link
        drops; that is the peer going away (bleak's error), not our task being cancelled."""
        try:
            return await operation
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._connection is None and task is not None and not task.cancelling():
                raise BleakError(f"{self.address} disconnected") from None
            raise

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._on_link(self._require_peer().read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._on_link(self._require_peer().read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        await self._on_link(
            self._require_peer().write_value(
                characteristic.obj, bytes(data), with_response=response
            )
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._on_link(
            self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)
        )

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        prefer_notify = "notify" in characteristic.properties
        await self._require_peer().subscribe(
            characteristic.obj,
            lambda value: callback(bytearray(value)),
            prefer_notify=prefer_notify,
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._require_peer().unsubscribe(characteristic.obj)
