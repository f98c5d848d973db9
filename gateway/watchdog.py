"""Notice a radio gone quiet: no advertisement and no sign of life from any connected
device for a while, although devices were seen before. A BLE stack can wedge like
that without raising any error; only the silence tells.

It can also wedge loudly: advertisements keep coming, but the radio refuses every
connection attempt (bumble's virtual controller with a stale pending connection
answered COMMAND_DISALLOWED for minutes). So connection attempts the radio refused
(failed before their timeout, rather than finding no device) count too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class RadioWatchdog:
    def __init__(
        self, limit_s: float, clock: Callable[[], float] = time.monotonic, max_refusals: int = 5
    ) -> None:
        self.limit_s = limit_s
        self.max_refusals = max_refusals
        self._clock = clock
        self.heard_at = clock()  # the last advertisement seen (or the last reset)
        self.refusals = 0  # connection attempts refused in a row, over all devices
        self._refused_devices: set[str] = set()

    def refused(self, address: str) -> None:
        """The radio refused a connection attempt (not: the device was not found)."""
        self.refusals += 1
        self._refused_devices.add(address)

    def connected(self) -> None:
        """A connection attempt succeeded: the radio works."""
        self.refusals = 0
        self._refused_devices.clear()

    def wedged(self, sessions: int) -> bool:
        """The last ``max_refusals`` connection attempts were all refused, for more than
        one device or with none connected: not one flaky device whose retries should
        not cost the connected ones their links."""
        return self.refusals >= self.max_refusals and (
            len(self._refused_devices) > 1 or sessions == 0
        )

    def heard(self) -> None:
        """An advertisement came in."""
        self.heard_at = self._clock()

    def was_reset(self) -> None:
        """The radio was just reset: start counting afresh."""
        self.heard()
        self.connected()

    def quiet_for(self, alive_at: Iterable[float]) -> float | None:
        """Seconds of silence if they reached the limit, else None; ``alive_at`` are the
        connected sessions' last signs of life (monotonic)."""
        quiet = self._clock() - max([self.heard_at, *alive_at])
        return quiet if quiet >= self.limit_s else None
