"""A bleak backend built on bumble, so the gateway's bleak code drives simulated bands.

    central = BumbleCentral.local(link)             # same process, over a LocalLink
    central = await BumbleCentral.open("tcp-client:127.0.0.1:9100")  # another process
    await central.start()
    scanner_cls, client_cls = bumble_backends(central)
    BleakScanner(..., backend=scanner_cls); BleakClient(device, backend=client_cls)

The band side of a cross-process link is ``firmware_sim.link_server.serve_link``.
"""

from __future__ import annotations

from gateway.bumble_backend.central import BumbleCentral
from gateway.bumble_backend.client import BumbleClient
from gateway.bumble_backend.scanner import BumbleScanner


def bumble_backends(central: BumbleCentral) -> tuple[type[BumbleScanner], type[BumbleClient]]:
    """Backend classes bound to ``central`` (bleak instantiates them itself)."""
    scanner = type("BoundBumbleScanner", (BumbleScanner,), {"central": central})
    client = type("BoundBumbleClient", (BumbleClient,), {"central": central})
    return scanner, client


__all__ = ["BumbleCentral", "BumbleClient", "BumbleScanner", "bumble_backends"]
