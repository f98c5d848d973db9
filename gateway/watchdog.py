"""Notice a radio gone quiet: no advertisement and no sign of life from any connected
device for a while, although devices were seen before. A BLE stack can wedge like
that without raising any error; only the silence tells."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class RadioWatchdog:
    def __init__(self, limit_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = limit_s
        self._clock = clock
        self.heard_at = clock()  # the last advertisement seen (or the last reset)

    def heard(self) -> None:
        """An advertisement came in, or the radio was just reset."""
        self.heard_at = self._clock()

    def quiet_for(self, alive_at: Iterable[float]) -> float | None:
        """Seconds of silence if they reached the limit, else None; ``alive_at`` are the
        connected sessions' last signs of life (monotonic)."""
        quiet = self._clock() - max([self.heard_at, *alive_at])
        return quiet if quiet >= self.limit_s else None
