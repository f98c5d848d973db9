"""Record-log sync over slow BLE links: pages sized to the link against fixed pages.

    python bench/slow_link.py [--records 435] [--limit 100]

A third-party-style band (tests/gateway/conformance/band.py) at ATT MTU 23 sending
10 or 20 notifications a second (about 200 and 400 B/s, as BLE 4.x bands do), and one
at MTU 247 without pacing; the real gateway on the bumble stack and a real broker.
For each link: the link's rate, the rate the gateway synced at (log bytes from the
first REPORT_FROM to the end of the last page) and the records it acknowledged
within ``--limit`` seconds, with today's adaptive pages and with the baseline of the
gateway before issue 17 (fixed pages of 400 records, a 30 s limit per page).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

from bumble.link import LocalLink

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gateway.band_session as band_session
from bandhub.contracts.messages import Topics
from bandhub.settings import Settings
from gateway.backend import local_link_backend
from gateway.mqtt_publisher import AckingPublisher
from gateway.page_pacer import PagePacer
from gateway.service import Gateway
from stack.embedded.broker import EmbeddedBroker
from tests.gateway.conformance.band import ConformanceBand, Quirks

LINKS = [("MTU 23, 10 notifications/s", 23, 10.0), ("MTU 23, 20 notifications/s", 23, 20.0),
         ("MTU 247, unpaced", 247, None)]  # fmt: skip


class FixedPages(PagePacer):
    """The gateway before issue 17: every page asks for the most, 30 s per page."""

    def __post_init__(self) -> None:
        self.size = self.max_size

    def page_done(self, nbytes: int, records: int, seconds: float) -> None:
        pass

    def time_limit_s(self) -> float:
        return 30.0


async def sync_once(broker_url: str, mtu: int, per_s: float | None, records: int,
                    limit_s: float, fixed: bool) -> dict:  # fmt: skip
    band_session.PagePacer = FixedPages if fixed else PagePacer  # type: ignore[misc]
    link = LocalLink()
    band = ConformanceBand(link, "ACME-001", "E0:00:00:00:00:01",
                           Quirks(mtu=mtu, notifications_per_s=per_s))  # fmt: skip
    band.make(records)
    await band.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(mqtt_url=broker_url, data_dir=Path(tmp), _env_file=None,
                            gateway_stall_s=30.0 if fixed else 6.0)  # fmt: skip
        gateway = Gateway(settings, await local_link_backend(link), None)
        gateway.publisher = AckingPublisher(broker_url, "gw-bench", Topics())
        await gateway.publisher.start()
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        deadline = time.monotonic() + limit_s
        while band.held and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 30)
        await gateway.publisher.stop()
    await band.close()
    done = band.transfers
    rate = sum(n for _s, _e, n in done) / (done[-1][1] - done[0][0]) if done else 0.0
    return {"acked": records - band.held, "rate": rate, "pages": len(band.requests)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=435)
    parser.add_argument("--limit", type=float, default=100.0, help="seconds per run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(Path(tmp) / "broker")
        await broker.start()
        try:
            print(f"{args.records} records per band, at most {args.limit:.0f} s per run\n")
            head = f"{'link':<28} {'link B/s':>8} | {'adaptive: synced':>16} {'B/s':>6} "
            print(head + f"{'pages':>5} | {'fixed 400/30 s: synced':>22} {'B/s':>6} {'pages':>5}")
            for name, mtu, per_s in LINKS:
                link_bps = f"{(mtu - 3) * per_s:.0f}" if per_s else "-"
                row = [await sync_once(broker.url, mtu, per_s, args.records, args.limit, fixed)
                       for fixed in (False, True)]  # fmt: skip
                a, b = row
                print(f"{name:<28} {link_bps:>8} | {a['acked']:>10}/{args.records:<5} "
                      f"{a['rate']:>6.0f} {a['pages']:>5} | {b['acked']:>16}/{args.records:<5} "
                      f"{b['rate']:>6.0f} {b['pages']:>5}")  # fmt: skip
        finally:
            await broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
