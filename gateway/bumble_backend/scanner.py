"""bleak scanner backend on a bumble central."""

from __future__ import annotations

from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bumble.core import AdvertisingData
from bumble.device import Advertisement

from gateway.bumble_backend.central import BumbleCentral

_UUID_LISTS = (
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


def bleak_uuid(uuid: Any) -> str:
    """bumble UUID -> the lower-case 128-bit string bleak uses everywhere."""
    h = uuid.to_bytes(force_128=True)[::-1].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class BumbleScanner(BaseBleakScanner):
    central: BumbleCentral  # set by bumble_backends()

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **_kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._names: dict[str, str] = {}
        self._uuids: dict[str, set[str]] = {}
        self._listening = False

    async def start(self) -> None:
        self.seen_devices = {}
        self.central.device.on("advertisement", self._on_advertisement)
        self._listening = True
        await self.central.acquire_scan()

    async def stop(self) -> None:
        if self._listening:
            self.central.device.remove_listener("advertisement", self._on_advertisement)
            self._listening = False
            await self.central.release_scan()

    def set_scanning_filter(self, **kwargs: Any) -> None:  # bleak <2 compatibility
        pass

    def _on_advertisement(self, adv: Advertisement) -> None:
        address = str(adv.address).removesuffix("/P")
        data = adv.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME
        )
        if name:
            self._names[address] = name if isinstance(name, str) else bytes(name).decode()
        uuids = self._uuids.setdefault(address, set())
        for kind in _UUID_LISTS:
            for u in data.get(kind) or []:
                uuids.add(bleak_uuid(u))
        service_uuids = sorted(uuids)
        if not self.is_allowed_uuid(service_uuids):
            return
        ad = AdvertisementData(
            local_name=self._names.get(address),
            manufacturer_data={},
            service_data={},
            service_uuids=service_uuids,
            tx_power=None,
            rssi=adv.rssi,
            platform_data=(adv,),
        )
        device = self.create_or_update_device(
            address, address, self._names.get(address), adv.address, ad
        )
        self.call_detection_callbacks(device, ad)
