"""What the gateway needs of a connected device, whatever kind it is.

A bandhub band (record log, commands) and a third-party heart-rate strap (live
measurements only) are driven very differently; the gateway owns their lifecycle
through this one protocol and never asks which class it holds. What only some
devices have (a record log on the device) is a separate capability.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bandhub.contracts.messages import CommandRequest, Topics
from bandhub.settings import Settings
from gateway.firmware_jobs import FirmwareJobs
from gateway.mqtt_publisher import AckingPublisher
from gateway.state import GatewayState


@dataclass
class SessionStats:
    band_id: str = ""
    firmware: str = ""
    model: str = ""
    records_spooled: int = 0
    alive_at: float = field(default_factory=time.monotonic)  # last sign of life (monotonic)
    rejected: int = 0
    clock_offset_s: float = 0.0
    battery: int | None = None
    connected_at: float = field(default_factory=time.time)


@dataclass
class SessionOptions:
    gateway_id: str
    page_size: int = 400
    batch_max: int = 500
    set_clock: bool = True
    pair: bool = True
    spool_max_bytes: int = 256 * 1024 * 1024
    stall_s: float = 6.0
    ota_min_battery: int = 30
    ota_receipt_every: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionOptions:
        return cls(
            gateway_id=settings.gateway_id,
            page_size=settings.gateway_page_size,
            batch_max=settings.gateway_batch_max,
            set_clock=settings.gateway_set_band_clock,
            pair=settings.gateway_pair,
            spool_max_bytes=int(settings.gateway_spool_max_mb * 1024 * 1024),
            stall_s=settings.gateway_stall_s,
            ota_min_battery=settings.gateway_ota_min_battery,
            ota_receipt_every=settings.gateway_ota_receipt_every,
        )


@dataclass
class SessionContext:
    """The gateway's parts a session works with, handed over when it is made."""

    publisher: AckingPublisher  # live values and rejection reports (not spooled)
    state: GatewayState  # the durable spool and cursors
    topics: Topics
    options: SessionOptions
    on_spooled: Callable[[str, int], None] = lambda _band_id, _records: None
    # raises (gateway.bindings.NotBound) for a band this gateway may not sync: called
    # as soon as the band is identified, before its clock is set or a record is read
    check_band: Callable[[str], None] = lambda _band_id: None
    firmware: FirmwareJobs | None = None  # firmware updates in hand (gateway.firmware_jobs)


@runtime_checkable
class DeviceSession(Protocol):
    """One connected device, from identification until its link drops."""

    stats: SessionStats

    @property
    def band_id(self) -> str:
        """The id used upstream for this device ("" until opened)."""
        ...

    async def open(self, address: str) -> str:
        """Identify the device and subscribe to it; returns its band id."""
        ...

    async def sync_forever(self) -> None:
        """Move the device's records into the spool until the link drops."""
        ...

    async def run_command(self, req: CommandRequest) -> tuple[str, str]:
        """Relay one command; returns (status, detail) for the result topic."""
        ...


@runtime_checkable
class RecordLogSession(DeviceSession, Protocol):
    """A device that keeps its own numbered record log, synced from a cursor."""

    @property
    def cursor(self) -> int:
        """The next seq the gateway will fetch from the device."""
        ...

    @property
    def backlog(self) -> int:
        """How many records the device holds beyond the cursor."""
        ...
