"""The virtual radio and the gateway's bumble client when a band goes away while the
gateway is connecting to it (real bumble stack): the attempt ends, and the radio
goes on connecting to other bands instead of refusing every later attempt."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from bandhub.bumble_radio import VirtualLink
from gateway.backend import local_link_backend
from tests.gateway.conformance.band import ConformanceBand

pytestmark = [pytest.mark.e2e]


async def test_a_band_gone_while_being_connected_does_not_wedge_the_radio():
    link = VirtualLink()
    gone = ConformanceBand(link, "ACME-001", "E0:00:00:00:00:01")
    there = ConformanceBand(link, "ACME-002", "E0:00:00:00:00:02")
    for band in (gone, there):
        await band.start()
    backend = await local_link_backend(link)
    try:
        seen = await BleakScanner.discover(timeout=1.5, return_adv=True,
                                           **backend.scanner_kwargs())  # fmt: skip
        devices = {d.address.upper(): d for d, _adv in seen.values()}
        link.remove_controller(gone.controller)  # killed between the scan and the connect
        await asyncio.sleep(0.5)  # its last advertisement is gone from the air too
        with pytest.raises(BleakError, match="not found"):
            await BleakClient(devices[gone.address], timeout=2.0,
                              **backend.client_kwargs()).connect()  # fmt: skip
        for _attempt in range(2):  # the radio still connects, and again after a disconnect
            client = BleakClient(devices[there.address], timeout=5.0, **backend.client_kwargs())
            await client.connect()
            assert client.is_connected
            await client.disconnect()
    finally:
        await there.close()
        await backend.close()
