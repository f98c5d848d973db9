"""The band's clock: runs ``speed`` times faster than real time, and can be set."""

from __future__ import annotations

import time


class SimClock:
    def __init__(self, start_unix: float, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._origin_band = start_unix
        self._origin_real = time.monotonic()

    def now(self) -> float:
        """Band time in unix seconds (UTC)."""
        return self._origin_band + (time.monotonic() - self._origin_real) * self.speed

    def set(self, unix_time: float) -> None:
        """What a Current Time write does: the band clock jumps to ``unix_time``."""
        self._origin_band = unix_time
        self._origin_real = time.monotonic()

    def real_seconds_until(self, unix_time: float) -> float:
        return max(0.0, (unix_time - self.now()) / self.speed)
