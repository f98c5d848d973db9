"""The conformance rig: quirky bands, a well-behaved neighbour, the real gateway, a
real broker, ingest and PostgreSQL, and the checks every quirk must pass."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import psycopg

from bandhub.bumble_radio import VirtualLink
from bandhub.contracts.messages import Topics
from bandhub.settings import Settings
from gateway.backend import local_link_backend
from gateway.mqtt_publisher import AckingPublisher
from gateway.service import Gateway
from ingest.service import Ingest
from tests.e2e.helpers import eventually
from tests.gateway.conformance.band import ConformanceBand, Quirks
from tests.gateway.test_gateway_behaviour import Listener

TABLES = ("hr_all", "epochs", "battery")  # hr_all: rows and compacted blocks


@dataclass
class Outcome:
    """What one quirky band made and what the system kept of it."""

    quirk: str
    made: int
    stored: int
    raw_kept: int
    sync_s: float
    notes: dict = field(default_factory=dict)

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (f"CONFORMANCE {self.quirk:<26} made={self.made:<4} stored={self.stored:<4} "
                f"raw_kept={self.raw_kept:<3} sync_s={self.sync_s:5.1f} {extra}")  # fmt: skip


class Rig:
    def __init__(self, settings: Settings, broker) -> None:
        self.settings = settings.model_copy(update={"gateway_set_band_clock": True})
        self.link = VirtualLink()  # a band that vanished is off the air
        self.bands: list[ConformanceBand] = []
        self.listener = Listener(broker)
        self.ingest = Ingest(self.settings)
        self.gateway: Gateway | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def band(self, history: int, quirks: Quirks | None = None) -> ConformanceBand:
        n = len(self.bands) + 1
        band = ConformanceBand(self.link, f"ACME-{n:03d}", f"E0:00:00:00:00:{n:02X}",
                               quirks or Quirks())  # fmt: skip
        band.make(history)
        await band.start()
        self.bands.append(band)
        return band

    async def start_gateway(self, **settings) -> Gateway:
        await asyncio.to_thread(self.ingest.start)
        gw_settings = self.settings.model_copy(update=settings)
        self.gateway = Gateway(gw_settings, await local_link_backend(self.link), None)
        self.gateway.publisher = AckingPublisher(gw_settings.mqtt_url, "gw-local", Topics())
        await self.gateway.publisher.start()
        self._task = asyncio.create_task(self.gateway.run(self._stop))
        return self.gateway

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None and self.gateway is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, 20)
            await self.gateway.publisher.stop()
        for band in self.bands:
            await band.close()
        await asyncio.to_thread(self.ingest.stop)
        self.listener.close()

    # --- what the database holds -------------------------------------------------------
    def stored(self, band: ConformanceBand) -> list[tuple[int, float]]:
        """(seq, t) of every row stored for the band, over all its record tables."""
        with psycopg.connect(self.settings.database_url) as conn:
            return [
                (seq, t.timestamp())
                for table in TABLES
                for seq, t in conn.execute(
                    f"SELECT seq, t FROM {table} WHERE band_id = %s", (band.serial,)
                ).fetchall()
            ]

    def rejected(self, band: ConformanceBand) -> dict[int, str]:
        """seq -> raw hex of the undecodable frames the gateway reported."""
        reports = self.listener.on(f"/band/{band.serial}/rejected")
        return {int.from_bytes(bytes.fromhex(r["raw_hex"])[2:6], "little"): r["raw_hex"]
                for r in reports}  # fmt: skip

    def all_kept(self, band: ConformanceBand) -> bool:
        good = {m.seq for m in band.made if m.decodable}
        raw = {m.seq for m in band.made if not m.decodable}
        return {s for s, _t in self.stored(band)} >= good and set(self.rejected(band)) >= raw

    async def synced(self, band: ConformanceBand, timeout: float, quirk: str) -> Outcome:
        """Wait until all the band made is kept, then check it was kept exactly once
        with the right times and the raw frames byte for byte."""
        started = time.monotonic()
        await eventually(lambda: self.all_kept(band), timeout, f"{band.serial} synced")
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)  # anything repeated late would show now
        rows = self.stored(band)
        seqs = [s for s, _t in rows]
        good = [m for m in band.made if m.decodable]
        assert sorted(seqs) == sorted(m.seq for m in good), "each record stored exactly once"
        times = dict(rows)
        wrong = [(m.seq, times[m.seq], m.true_t) for m in good if abs(times[m.seq] - m.true_t) > 2]
        assert not wrong, f"records stored with the wrong time: {wrong[:3]}"
        rejected = self.rejected(band)
        for m in band.made:
            if not m.decodable:
                assert rejected[m.seq] == m.frame.hex()
        return Outcome(quirk, len(band.made), len(rows), len(rejected), elapsed)

    async def neighbour_still_served(self, neighbour: ConformanceBand) -> None:
        """The well-behaved band next to the quirky one keeps syncing new records."""
        neighbour.make(3)
        await eventually(lambda: self.all_kept(neighbour), 20, "the neighbour's new records")
        assert len(self.stored(neighbour)) == len(neighbour.made)
