"""Publish the durable spool to the broker, most urgent first, forgetting each message
only once the broker acknowledged it. While the broker is away the publishes wait and
the spool grows on disk. A record batch the broker took with nobody subscribed to it
(MQTT 5 says so: no ingest worker's subscription, e.g. just after a broker restart
that forgot shared subscriptions) stays in the spool and is sent again shortly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.mqtt_publisher import NotDelivered
from gateway.state import GatewayState

log = logging.getLogger(__name__)

WINDOW = 100  # messages in flight at once
RETRY_S = (0.5, 1.0, 2.0, 5.0)  # waits before sending undelivered batches again


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
        self._undelivered_rounds = 0  # consecutive windows with a batch nobody took

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
            outcomes = await asyncio.gather(
                *(self._publish(e.topic, e.payload) for e in entries), return_exceptions=True
            )
            done = [e.id for e, out in zip(entries, outcomes, strict=True) if out is None]
            self.state.spool_remove(done)
            if done:
                self._on_published(len(done), time.monotonic() - started)
            for out in outcomes:  # anything but "not delivered" is the drain's failure
                if isinstance(out, BaseException) and not isinstance(out, NotDelivered):
                    raise out
            held = len(entries) - len(done)
            if held:
                await self._wait_for_a_subscriber(held)
            else:
                self._undelivered_rounds = 0

    async def _wait_for_a_subscriber(self, held: int) -> None:
        """Nobody subscribed took these batches: they stay spooled; wait, then retry."""
        wait = RETRY_S[min(self._undelivered_rounds, len(RETRY_S) - 1)]
        if self._undelivered_rounds == 0 or self._undelivered_rounds % 12 == 0:
            log.warning(
                "%d record batch(es) reached no subscriber on the broker (no ingest"
                " subscribed yet, or the broker restarted and forgot the workers'"
                " shared subscriptions): kept in the spool, retrying",
                held,
            )
        self._undelivered_rounds += 1
        await asyncio.sleep(wait)
