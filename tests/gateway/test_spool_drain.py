"""Publishing the spool without a broker: most urgent first, and a message leaves the
spool only once the broker acknowledged it."""

from __future__ import annotations

import asyncio
import contextlib

from gateway.spool_drain import SpoolDrain
from gateway.state import GatewayState
from tests.e2e.helpers import eventually


class HeldBroker:
    """Acknowledges nothing until ``release()``."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.acks: list[asyncio.Future[None]] = []

    def publish(self, topic: str, _payload: str) -> asyncio.Future[None]:
        self.published.append(topic)
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]

    def release(self) -> None:
        for fut in self.acks:
            if not fut.done():
                fut.set_result(None)


async def test_urgent_messages_go_first_and_stay_spooled_until_acked(tmp_path):
    state = GatewayState(tmp_path / "gw.sqlite")
    state.spool([(2, "t/epoch", "{}"), (1, "t/hr", "{}"), (0, "t/fall", "{}")])
    broker, windows = HeldBroker(), []
    drain = SpoolDrain(state, broker.publish, lambda n, _s: windows.append(n))
    task = asyncio.create_task(drain.run())
    try:
        await eventually(lambda: len(broker.published) == 3, 5, "three publishes")
        assert broker.published == ["t/fall", "t/hr", "t/epoch"]
        await asyncio.sleep(0.05)
        assert state.spool_rows == 3  # not acked: still on disk
        broker.release()
        await eventually(lambda: state.spool_rows == 0, 5, "the spool emptied")
        assert windows == [3]
        state.spool([(1, "t/hr", "{}")])
        drain.wake()
        await eventually(lambda: len(broker.published) == 4, 5, "the new message")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.close()
