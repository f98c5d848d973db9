"""Stand-ins for the radio and the broker, for the gateway's logic without either."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from bandhub.contracts.messages import CommandRequest
from gateway.session import SessionStats


class FakePublisher:
    """Keeps what was published; ``publish`` returns an already-acked future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def publish(self, topic: str, payload: str) -> asyncio.Future[None]:
        self.sent.append((topic, json.loads(payload)))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def on(self, suffix: str) -> list[dict]:
        return [p for t, p in self.sent if t.endswith(suffix)]


class FakeSession:
    """A connected device that answers commands as ``answer`` says (a DeviceSession)."""

    def __init__(
        self,
        band_id: str,
        answer: Callable[[CommandRequest], tuple[str, str]] = lambda _req: ("ok", ""),
    ) -> None:
        self.stats = SessionStats(band_id=band_id)
        self.answer = answer
        self.commands: list[str] = []  # ids, in the order they reached the device

    @property
    def band_id(self) -> str:
        return self.stats.band_id

    async def open(self, address: str) -> str:
        return self.band_id

    async def sync_forever(self) -> None:
        await asyncio.Event().wait()

    async def run_command(self, req: CommandRequest) -> tuple[str, str]:
        self.commands.append(req.id)
        return self.answer(req)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
