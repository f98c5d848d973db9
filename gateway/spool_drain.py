"""Publish the durable spool to the broker, most urgent first, forgetting each message
only once the broker acknowledged it. While the broker is away the publishes wait and
the spool grows on disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.state import GatewayState

log = logging.getLogger(__name__)

WINDOW = 100  # messages in flight at once


class SpoolDrain:
    def __init__(
        self,
        state: GatewayState,
        publish: Callable[[str, str], Awaitable[None]],
        on_published: Callable[[int, float], None] = lambda _count, _seconds: None,
    ) -> None:
        """``publish(topic, payload)`` completes when the broker acked the message;
        ``on_published(count, seconds)`` hears of every acknowledged window."""
        self.state = state
        self._publish = publish
        self._on_published = on_published
        self._spooled = asyncio.Event()

    def wake(self) -> None:
        """Something was spooled: drain now rather than at the next poll."""
        self._spooled.set()

    async def run(self) -> None:
        """Keep draining; an unexpected error is logged and the drain resumes."""
        while True:
            try:
                await self._drain_forever()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("spool drain failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _drain_forever(self) -> None:
        """Publish spooled messages in (priority, arrival) order; forget each once acked."""
        while True:
            self._spooled.clear()
            entries = self.state.spool_next(WINDOW)
            if not entries:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can turn a
                # cancellation that coincides with its timeout into TimeoutError, which
                # this loop would swallow, and the drainer would never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._spooled.wait()
                continue
            started = time.monotonic()
            await asyncio.gather(*(self._publish(e.topic, e.payload) for e in entries))
            self.state.spool_remove([e.id for e in entries])
            self._on_published(len(entries), time.monotonic() - started)
