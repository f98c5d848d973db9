"""Run several simulated bands on one virtual radio link.

In one process the gateway can join the same ``LocalLink``; across processes the
link is exposed as an HCI transport (``tcp-server:HOST:PORT``) that a gateway opens
with the bumble backend (``bumble:tcp-client:HOST:PORT``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from bumble.link import LocalLink

from bandhub.bumble_radio import VirtualLink
from firmware_sim.band import BandConfig, SimulatedBand

log = logging.getLogger(__name__)


@dataclass
class FleetOptions:
    count: int = 3
    start: dt.datetime | None = None  # band clock at start; default: now
    days: float | None = None  # stop making records after this many band days
    speed: float = 1.0
    seed: int = 1
    fall_band: int | None = 0  # index of the band whose wearer falls, None for no fall
    fall_at_s: int = 15 * 3600 + 30 * 60  # seconds after the first midnight
    hr_interval_s: int = 5
    im_ok_after_s: float | None = None
    drop_links_every_s: float | None = None  # chaos: a random band walks out of range
    passkey: bool = False  # bands show a passkey to type in when pairing (display, no keys)
    vendor_key: bytes | None = None  # Ed25519 public key of firmware images (none: refused)


def band_configs(opts: FleetOptions) -> list[BandConfig]:
    start = opts.start or dt.datetime.now(dt.UTC).replace(microsecond=0)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    stop = start + dt.timedelta(days=opts.days) if opts.days else None
    configs = []
    for i in range(opts.count):
        fall = None
        if opts.fall_band is not None and i == opts.fall_band:
            fall = midnight + dt.timedelta(seconds=opts.fall_at_s)
        configs.append(
            BandConfig(
                serial=f"BH-{i + 1:04d}",
                address=f"F0:00:00:00:{(i + 1) >> 8:02X}:{(i + 1) & 0xFF:02X}",
                start=start,
                speed=opts.speed,
                seed=opts.seed + i,
                resting_hr=56.0 + 4 * (i % 5),
                fall_at=fall,
                hr_interval_s=opts.hr_interval_s,
                im_ok_after_s=opts.im_ok_after_s,
                stop_at=stop,
                passkey=opts.passkey,
                vendor_key=opts.vendor_key,
            )
        )
    return configs


async def start_fleet(opts: FleetOptions, link: LocalLink | None = None) -> list[SimulatedBand]:
    link = link or VirtualLink()
    bands = [SimulatedBand(cfg, link) for cfg in band_configs(opts)]
    for band in bands:
        await band.start()
    return bands


def truth_report(bands: list[SimulatedBand]) -> dict:
    """What the bands made: record counts per stream, and per-day truth for the
    simulated part of each day (from the band's start to its stop time)."""
    out = {}
    for band in bands:
        start = int(band.config.start.timestamp())
        stop = int(band.config.stop_at.timestamp()) if band.config.stop_at else None
        days = {}
        for date, day in band.simulated_days.items():
            lo = max(start - day.midnight, 0)
            hi = min((stop or day.midnight + 86_400) - day.midnight, 86_400)
            if hi <= lo:
                continue
            days[date.isoformat()] = {
                "steps": day.steps_between(lo, hi),
                "asleep_minutes": day.asleep_minutes(lo - lo % 60, hi - hi % 60),
                "hr_mean": round(float(day.hr_bpm[lo:hi][day.worn[lo:hi]].mean()), 1),
                "rmssd_ms": day.rmssd_ms(lo, hi),
                "sleep_rmssd_ms": day.rmssd_ms(lo, hi, sleep_only=True),
                "simulated_minutes": (hi - lo) // 60,
            }
        out[band.config.serial] = {
            "records": {t.name.lower(): n for t, n in band.produced().items()},
            "days": days,
        }
    return out


async def serve_fleet(
    opts: FleetOptions, hci_spec: str, truth_file: Path | None, stop: asyncio.Event
) -> None:
    """Run bands exposed on ``hci_spec`` until ``stop``; write the truth when they finish."""
    from firmware_sim.link_server import serve_link

    link = VirtualLink()
    server = await serve_link(link, hci_spec)
    bands = await start_fleet(opts, link)
    log.info("%d bands advertising on %s", len(bands), hci_spec)
    chaos = asyncio.create_task(_drop_links(bands, opts)) if opts.drop_links_every_s else None
    try:
        if opts.days:
            all_done = asyncio.ensure_future(asyncio.gather(*(b.stopped.wait() for b in bands)))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([all_done, stopping], return_when=asyncio.FIRST_COMPLETED)
            if all_done.done() and truth_file is not None:
                truth_file.write_text(json.dumps(truth_report(bands), indent=1))
                log.info("bands finished their days; truth written to %s", truth_file)
            all_done.cancel()
        await stop.wait()
    finally:
        if chaos is not None:
            chaos.cancel()
        for band in bands:
            await band.close()
        await server.close()


async def _drop_links(bands: list[SimulatedBand], opts: FleetOptions) -> None:
    """Every ``drop_links_every_s`` (jittered, seeded) one connected band drops its link."""
    rng = random.Random(opts.seed)
    assert opts.drop_links_every_s
    while True:
        await asyncio.sleep(opts.drop_links_every_s * rng.uniform(0.5, 1.5))
        connected = [b for b in bands if b.is_connected]
        if connected:
            band = rng.choice(connected)
            log.info("chaos: %s drops its link", band.config.serial)
            await band.drop_link()
