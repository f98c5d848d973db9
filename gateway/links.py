"""What the gateway knows of each device it has seen, connected or not: its session
while connected, its backoff after failures, and its recent history."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field

from bandhub.contracts.messages import LinkEvent
from gateway.session import DeviceSession

BACKOFF_MAX_S = 30.0


@dataclass
class BandLink:
    """One device by BLE address; ``session`` is set while it is connected."""

    address: str
    kind: str
    band_id: str = ""
    session: DeviceSession | None = None
    failures: int = 0
    retry_at: float = 0.0  # monotonic
    task: asyncio.Task | None = None
    rssi: int | None = None
    reconnects: int = 0
    last_error: str = ""
    history: deque[LinkEvent] = field(default_factory=lambda: deque(maxlen=20))
    status_at: float = 0.0  # monotonic, when its status was last published

    def record(self, event: str, detail: str = "") -> None:
        self.history.append(LinkEvent(at=time.time(), event=event, detail=detail))

    def opened(self, session: DeviceSession) -> None:
        self.session = session
        self.band_id = session.band_id
        self.failures = 0
        self.record("connected")

    def dropped(self) -> None:
        """The link ended without an error (the device went away)."""
        self.reconnects += 1
        self.record("disconnected")

    def failed(self, exc: Exception) -> float:
        """Connecting or syncing failed: remember why and back off; returns the delay."""
        self.failures += 1
        self.reconnects += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.record("failed", self.last_error)
        delay = retry_delay(self.failures)
        self.retry_at = time.monotonic() + delay
        return delay

    def retry_now(self) -> None:
        """Forget the backoff (the radio was reset: earlier failures say nothing)."""
        self.retry_at = 0.0
        self.failures = 0

    def due(self, now: float) -> bool:
        """Whether a connection attempt should start now (none running, backoff over)."""
        return (self.task is None or self.task.done()) and now >= self.retry_at


def retry_delay(failures: int) -> float:
    """Exponential backoff with jitter, so bands that dropped together do not all
    come back in the same second."""
    return min(BACKOFF_MAX_S, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
