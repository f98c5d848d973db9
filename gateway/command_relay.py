"""Commands from MQTT to bands, and their results back.

A command for a band that is connected runs at once; one for an absent band waits
until the band connects or its time to live runs out. Waiting commands are kept in
the gateway's state file, so a restart neither loses them nor their ``expired``
result. Every command ends in exactly one result on ``…/cmd/result``
(docs/mqtt.md), also one that could not be read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from bandhub.contracts.messages import CommandRequest, CommandResult, Topics
from gateway.session import DeviceSession

log = logging.getLogger(__name__)


@dataclass
class PendingCommand:
    request: CommandRequest
    expires_at: float  # unix time
    row: int | None = None  # its row in the store, while it waits


class PendingStore(Protocol):
    """Where waiting commands survive a restart (gateway.state.GatewayState)."""

    def add_pending_command(self, band_id: str, request: str, expires_at: float) -> int: ...
    def pending_commands(self) -> list[tuple[int, str, str, float]]: ...
    def remove_pending_command(self, row_id: int) -> None: ...


class CommandRelay:
    def __init__(
        self,
        topics: Topics,
        publish: Callable[[str, str], Any],
        connected: Callable[[str], DeviceSession | None],
        clock: Callable[[], float] = time.time,
        store: PendingStore | None = None,
        firmware: Callable[[str, CommandRequest], None] | None = None,
    ) -> None:
        """``publish(topic, payload)`` sends a result; ``connected(band_id)`` is the
        band's session if it is connected now; ``store`` keeps waiting commands;
        ``firmware(band_id, request)`` takes ``firmware_update`` commands, which run
        between syncs and across connections (gateway.firmware_jobs)."""
        self.topics = topics
        self._publish = publish
        self._connected = connected
        self._clock = clock
        self._store = store
        self._firmware = firmware
        self.waiting: dict[str, list[PendingCommand]] = {}  # by band id
        self._running: set[asyncio.Task] = set()
        for row, band_id, request, expires_at in store.pending_commands() if store else []:
            req = CommandRequest.model_validate_json(request)
            self.waiting.setdefault(band_id, []).append(PendingCommand(req, expires_at, row))

    def on_message(self, topic: str, payload: bytes) -> None:
        """A command arrived on ``{prefix}/band/{band_id}/cmd``: run it or queue it."""
        band_id = topic.split("/")[-2]
        try:
            req = CommandRequest.model_validate_json(payload)
        except ValidationError as exc:
            reason = exc.errors()[0]
            where = ".".join(map(str, reason["loc"]))
            self._publish_result(band_id, "?", "invalid", f"{where}: {reason['msg']}")
            return
        if req.cmd == "firmware_update":
            if self._firmware is None:
                self._publish_result(band_id, req.id, "unsupported", "no firmware updates here")
            else:
                self._firmware(band_id, req)
            return
        pending = PendingCommand(req, (req.issued_at or self._clock()) + req.ttl_s)
        session = self._connected(band_id)
        if session is not None:
            task = asyncio.create_task(self._run(session, pending))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        else:
            log.info("band %s absent: command %s waits up to %.0f s", band_id, req.id, req.ttl_s)
            if self._store is not None:
                pending.row = self._store.add_pending_command(
                    band_id, req.model_dump_json(), pending.expires_at
                )
            self.waiting.setdefault(band_id, []).append(pending)

    async def deliver_waiting(self, session: DeviceSession) -> None:
        """The band just connected: run what waited for it, in arrival order."""
        for pending in self.waiting.pop(session.band_id, []):
            await self._run(session, pending)
            self._forget(pending)

    def expire(self) -> None:
        """Answer ``expired`` for waiting commands whose time to live has passed."""
        now = self._clock()
        for band_id, waiting in list(self.waiting.items()):
            for pending in [p for p in waiting if now > p.expires_at]:
                waiting.remove(pending)
                self._publish_result(band_id, pending.request.id, "expired", "band not reached")
                self._forget(pending)

    def _forget(self, pending: PendingCommand) -> None:
        """Answered: drop it from the store (a crash before this answers it twice at worst)."""
        if self._store is not None and pending.row is not None:
            self._store.remove_pending_command(pending.row)

    async def _run(self, session: DeviceSession, pending: PendingCommand) -> None:
        req = pending.request
        if self._clock() > pending.expires_at:
            self._publish_result(session.band_id, req.id, "expired", "time to live passed")
            return
        try:
            status, detail = await session.run_command(req)
        except Exception as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        self._publish_result(session.band_id, req.id, status, detail)

    def _publish_result(self, band_id: str, cmd_id: str, status: str, detail: str) -> None:
        result = CommandResult(v=1, id=cmd_id, band_id=band_id, status=status, detail=detail)
        self._publish(self.topics.command_result(band_id), result.model_dump_json())
