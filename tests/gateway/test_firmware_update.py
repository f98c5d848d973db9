"""Firmware over the air on the real bumble stack: the simulated band's DFU service,
the real gateway, broker, ingest and PostgreSQL (docs/gatt.md, "Firmware update").

Run with ``-s`` to see an OTA line per update: image size, chunk size, time over the
simulated link, resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid

import pytest

from bandhub.bumble_radio import VirtualLink
from bandhub.contracts import dfu
from bandhub.contracts.messages import Topics
from firmware_sim.band import BandConfig, SimulatedBand
from gateway.backend import local_link_backend
from gateway.mqtt_publisher import AckingPublisher
from gateway.service import Gateway
from ingest.service import Ingest
from tests.e2e.helpers import eventually, produced_counts, stored_counts
from tests.firmware_images import VENDOR_PUBLIC, signed_image
from tests.gateway.test_gateway_behaviour import Listener

pytestmark = [pytest.mark.e2e]

START = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
SIZE = 48 * 1024


class Ota:
    """One band, a gateway, ingest and a listener on one virtual radio."""

    def __init__(self, settings, broker) -> None:
        self.settings = settings.model_copy(update={"gateway_set_band_clock": False})
        self.link = VirtualLink()
        self.listener = Listener(broker)
        self.ingest = Ingest(self.settings)
        self.band: SimulatedBand | None = None
        self.gateway: Gateway | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self, **band) -> SimulatedBand:
        config = BandConfig(
            serial="BH-0001", address="F0:00:00:00:00:01", start=START, speed=60,
            vendor_key=VENDOR_PUBLIC, **band,
        )  # fmt: skip
        self.band = SimulatedBand(config, self.link)
        await self.band.start()
        await asyncio.to_thread(self.ingest.start)
        self.gateway = Gateway(self.settings, await local_link_backend(self.link), None)
        self.gateway.publisher = AckingPublisher(self.settings.mqtt_url, "gw-local", Topics())
        await self.gateway.publisher.start()
        self._task = asyncio.create_task(self.gateway.run(self._stop))
        await eventually(lambda: self.listener.on("/BH-0001/status"), 20, "the band online")
        return self.band

    def send_update(self, image: bytes, signature: bytes, version: str, **args) -> str:
        cmd_id = f"fw-{uuid.uuid4().hex[:8]}"
        payload = {"v": 1, "id": cmd_id, "cmd": "firmware_update", "ttl_s": 3600,
                   "args": {**dfu.update_args(version, image, signature), **args}}  # fmt: skip
        self.listener.send(Topics().command("BH-0001"), payload)
        return cmd_id

    async def result(self, cmd_id: str, timeout: float = 60) -> dict:
        def found():
            return [r for r in self.listener.on("/cmd/result") if r["id"] == cmd_id]

        await eventually(found, timeout, f"the result of {cmd_id}")
        [result] = found()
        return result

    def updates(self) -> list[dict]:
        return [s["update"] for s in self.listener.on("/BH-0001/status") if s.get("update")]

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None and self.gateway is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, 20)
            await self.gateway.publisher.stop()
        if self.band is not None:
            await self.band.close()
        await asyncio.to_thread(self.ingest.stop)
        self.listener.close()


@pytest.fixture
async def ota(settings, broker):
    rig = Ota(settings, broker)
    yield rig
    await rig.close()


def _timeline(what: str, update: dict, wall_s: float) -> None:
    print(
        f"OTA {what:<22} size={update['size']} chunk={update['chunk']}"
        f" transfer_s={update['transfer_s']:.2f} resumes={update['resumes']}"
        f" command_to_new_version_s={wall_s:.1f}"
    )


async def test_a_full_update_and_no_record_lost(ota, settings):
    stop_at = START + dt.timedelta(minutes=15)  # band time: 15 s of real time at speed 60
    band = await ota.start(stop_at=stop_at)
    image, signature = signed_image("1.1.0")
    started = time.monotonic()
    result = await ota.result(ota.send_update(image, signature, "1.1.0"))
    wall = time.monotonic() - started
    assert result["status"] == "ok", result
    assert band.firmware == "1.1.0" and band.dfu.updates == 1
    await eventually(
        lambda: any(s["firmware"] == "1.1.0" for s in ota.listener.on("/BH-0001/status")),
        20, "the new version in the band's status",
    )  # fmt: skip
    steps = [u["state"] for u in ota.updates()]
    assert steps[-1] == "updated" and "transferring" in steps and "activating" in steps
    final = ota.updates()[-1]
    assert final["offset"] == final["size"] == SIZE and final["resumes"] == 0
    _timeline("full update", final, wall)

    # the record log across the update: synced before, resumed after, nothing lost
    await asyncio.wait_for(band.stopped.wait(), 60)
    await eventually(
        lambda: stored_counts(settings.database_url).get("BH-0001")
        == produced_counts([band])["BH-0001"],
        60, "every record the band made stored",
    )  # fmt: skip
    events = [e.kind for e in band.events]
    assert events.count("connected") >= 2  # it rebooted into 1.1.0 and was synced again


async def test_a_dropped_link_resumes_from_the_confirmed_offset(ota):
    band = await ota.start(drop_link_at_dfu_offset=SIZE // 2)
    image, signature = signed_image("1.2.0")
    started = time.monotonic()
    result = await ota.result(ota.send_update(image, signature, "1.2.0"))
    assert result["status"] == "ok", result
    assert band.firmware == "1.2.0"
    notes = [e.detail for e in band.events if e.kind == "dfu"]
    starts = [n for n in notes if n.startswith("start ")]
    resumes = [int(n.split()[-1]) for n in notes if n.startswith("resume at")]
    assert len(starts) == 1, notes  # never started over
    assert len(resumes) == 1 and SIZE // 3 < resumes[0] < SIZE, notes
    final = ota.updates()[-1]
    assert final["state"] == "updated" and final["resumes"] == 1
    assert ota.gateway is not None
    registry = ota.gateway.metrics.registry
    assert (
        registry.get_sample_value("bandhub_gateway_firmware_resumes_total", {"band_id": "BH-0001"})
        == 1
    )
    assert (
        registry.get_sample_value("bandhub_gateway_firmware_updates_total", {"outcome": "updated"})
        == 1
    )
    _timeline("dropped link, resumed", final, time.monotonic() - started)


async def test_a_corrupted_image_is_refused_and_the_old_version_runs_on(ota):
    band = await ota.start()
    image, signature = signed_image("1.3.0")
    corrupted = image[:5000] + bytes([image[5000] ^ 0xFF]) + image[5001:]
    result = await ota.result(ota.send_update(corrupted, signature, "1.3.0"))
    assert result["status"] == "failed"
    assert "BAD_SIGNATURE" in result["detail"] and "still runs 1.0.0" in result["detail"]
    assert band.firmware == "1.0.0" and band.dfu.last_result == dfu.LastResult.REFUSED
    assert ota.updates()[-1]["state"] == "refused"
    made = band.log.status.next_seq
    await eventually(lambda: band.log.status.first_seq > made, 20, "the band still synced")


async def test_a_band_that_cannot_boot_the_new_image_rolls_back(ota):
    band = await ota.start()
    image, signature = signed_image("2.0.0", flags=dfu.FLAG_FAILS_TO_BOOT)
    result = await ota.result(ota.send_update(image, signature, "2.0.0"))
    assert result["status"] == "failed" and "rolled back to 1.0.0" in result["detail"]
    assert band.firmware == "1.0.0"
    assert ota.updates()[-1]["state"] == "rolled_back"


async def test_an_update_waits_for_the_battery(ota):
    band = await ota.start(battery=12)
    image, signature = signed_image("1.1.0", size=16 * 1024)
    cmd_id = ota.send_update(image, signature, "1.1.0")
    await eventually(
        lambda: any(u["state"] == "waiting" and "battery 12 %" in u.get("detail", "")
                    for u in ota.updates()),
        20, "the update waiting for the battery",
    )  # fmt: skip
    assert band.dfu.start is None  # nothing was sent to the band
    band.set_battery(80)  # charged: the band notifies its level, the update starts
    result = await ota.result(cmd_id)
    assert result["status"] == "ok" and band.firmware == "1.1.0"


async def test_from_the_catalogue_to_the_band_through_the_api(ota, api, owner, settings):
    """Support rolls a release out to 50 % of the bands; the band (inside the half) is
    reminded on its screen; its owner sees the update and accepts it; the band runs it
    and the API shows its progress and the new version."""
    from api.firmware import rollout_bucket
    from tests.api.test_firmware import release_body
    from tests.people import person

    band = await ota.start()
    owner.own(settings.database_url, "BH-0001")
    await eventually(
        lambda: _status_firmware(settings.database_url) == "1.0.0", 20, "the band's status stored"
    )
    # a version whose 50 % rollout includes BH-0001 (the hash is stable, so this is too)
    version = next(v for v in (f"1.1.{i}" for i in range(100))
                   if rollout_bucket({"model": "BH-1", "version": v}, "BH-0001") < 50)  # fmt: skip
    support = await person(str(api.base_url), settings.database_url, "sam@bandhub.example",
                           support=True)  # fmt: skip
    r = await support.client.post("/firmware/releases", json=release_body(version, 32 * 1024))
    assert r.status_code == 201, r.text
    r = await support.client.put(f"/firmware/releases/{r.json()['id']}/rollout",
                                 json={"mode": "percent", "percent": 50})  # fmt: skip
    assert r.json()["reminded"] == ["BH-0001"]
    await eventually(
        lambda: ("message", f"SMS: Update {version} (1)")
        in [(e.kind, e.detail) for e in band.events],
        20, "the reminder on the band's screen",
    )  # fmt: skip

    offer = (await owner.client.get("/bands/BH-0001/firmware")).json()
    assert offer["current"] == "1.0.0" and offer["available"]["version"] == version
    r = await owner.client.post("/bands/BH-0001/firmware/update", json={"action": "now"})
    assert r.status_code == 202, r.text
    result = await ota.result(r.json()["command_id"])
    assert result["status"] == "ok" and band.firmware == version

    async def shown() -> bool:
        got = (await owner.client.get("/bands/BH-0001/firmware")).json()
        return got["current"] == version and got["progress"]["state"] == "updated"

    await eventually(shown, 20, "the new version in the API")
    got = (await owner.client.get("/bands/BH-0001/firmware")).json()
    assert got["available"] is None  # nothing newer on offer
    diag = (await owner.client.get("/bands/BH-0001/diagnostics")).json()
    assert diag["link"]["update"]["state"] == "updated"
    await support.aclose()


def _status_firmware(url: str) -> str | None:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status->>'firmware' FROM band_status WHERE band_id = 'BH-0001'"
        ).fetchone()
    return row[0] if row else None
