"""Which bleak backend the gateway drives: the platform's own, or bumble.

``native`` lets bleak pick BlueZ/CoreBluetooth/WinRT for real bands. ``bumble:SPEC``
opens a bumble HCI transport (``tcp-client:HOST:PORT`` to reach simulated bands in
another process, ``usb:0`` for a dongle). In one process, tests pass a LocalLink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class BleBackend:
    scanner_cls: type | None = None  # None: bleak's default for this platform
    client_cls: type | None = None
    central: Any = None  # the bumble central, when there is one
    # reopen the adapter (watchdog); None on native stacks, where bleak has no adapter
    # reset: there the watchdog drops and re-creates every link and scanner instead
    reset: Callable[[], Awaitable[None]] | None = None

    def scanner_kwargs(self) -> dict:
        return {"backend": self.scanner_cls} if self.scanner_cls else {}

    def client_kwargs(self) -> dict:
        return {"backend": self.client_cls} if self.client_cls else {}

    async def close(self) -> None:
        if self.central is not None:
            await self.central.close()


async def open_backend(spec: str, bonds_file: Path | None = None) -> BleBackend:
    """Build the backend named by ``BANDHUB_GATEWAY_BACKEND``. Native stacks keep bonds
    themselves; bumble keeps them in ``bonds_file`` so they survive a restart."""
    if spec == "native":
        return BleBackend()
    if spec.startswith("bumble:"):
        from gateway.bumble_backend import BumbleCentral, bumble_backends

        central = await BumbleCentral.open(spec.removeprefix("bumble:"), bonds_file=bonds_file)
        await central.start()
        scanner_cls, client_cls = bumble_backends(central)
        return BleBackend(scanner_cls, client_cls, central, reset=central.reopen)
    raise ValueError(f"unknown gateway backend {spec!r}: use 'native' or 'bumble:<transport>'")


async def local_link_backend(link: Any) -> BleBackend:
    """A bumble central on an in-process LocalLink (tests, single-process demo)."""
    from gateway.bumble_backend import BumbleCentral, bumble_backends

    central = BumbleCentral.local(link)
    await central.start()
    scanner_cls, client_cls = bumble_backends(central)
    return BleBackend(scanner_cls, client_cls, central, reset=central.reopen)
