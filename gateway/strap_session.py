"""A third-party heart-rate device (strap or watch with the standard Heart Rate
Service): heart-rate records only. It has no record log, so the gateway numbers the
measurements itself (a durable per-device counter) and stamps them with its own
clock; they travel through the same spool as a band's records."""

from __future__ import annotations

import asyncio
import logging
import time

from bleak import BleakClient

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import CommandRequest
from gateway.records import spool_messages
from gateway.session import SessionContext, SessionStats

log = logging.getLogger(__name__)

FLUSH_S = 1.0  # measurements are spooled once a second


def strap_id(address: str) -> str:
    """A stable id from the device address (no serial number on most straps)."""
    return "HRM-" + address.replace(":", "").replace("-", "").upper()[-12:]


class StrapSession:
    """A :class:`~gateway.session.DeviceSession` without a record log or commands."""

    def __init__(self, client: BleakClient, context: SessionContext) -> None:
        self.client = client
        self.state = context.state
        self.topics = context.topics
        self.gateway_id = context.options.gateway_id
        self.on_spooled = context.on_spooled
        self.check_band = context.check_band
        self.stats = SessionStats()
        self._pending: list[g.Record] = []
        self._next_seq = 0  # the number the next measurement gets

    @property
    def band_id(self) -> str:
        return self.stats.band_id

    async def open(self, address: str) -> str:
        self.stats.band_id = strap_id(address)
        self.check_band(self.band_id)
        self.stats.firmware = "third-party heart-rate device"
        self._next_seq = self.state.cursor(self.band_id)
        await self.client.start_notify(g.HEART_RATE_MEASUREMENT, self._on_hr)
        log.info("heart-rate device %s connected", self.band_id)
        return self.band_id

    def _on_hr(self, _char, data: bytearray) -> None:
        self.stats.alive_at = time.monotonic()
        try:
            m = g.decode_heart_rate(bytes(data))
        except g.DecodeError as exc:
            self.stats.rejected += 1
            log.warning("%s: rejected heart-rate notification: %s", self.band_id, exc)
            return
        if m.bpm == 0:  # no reading (strap not on the skin)
            return
        seq = self._next_seq + len(self._pending)
        self._pending.append(g.Record(seq, g.RecordType.HEART_RATE, int(time.time()), m))

    async def sync_forever(self) -> None:
        while self.client.is_connected:
            await asyncio.sleep(FLUSH_S)
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Spool the measurements so far and advance the durable counter with them."""
        if not self._pending:
            return
        records, self._pending = self._pending, []
        self._next_seq = records[-1].seq + 1
        messages = spool_messages(
            records,
            topics=self.topics,
            band_id=self.band_id,
            gateway_id=self.gateway_id,
            clock_offset_s=0.0,  # stamped with the gateway's own clock
            max_records=len(records),
        )
        self.state.spool_and_advance(self.band_id, messages, self._next_seq)
        self.stats.records_spooled += len(records)
        self.on_spooled(self.band_id, len(records))

    async def run_command(self, _req: CommandRequest) -> tuple[str, str]:
        return "unsupported", "a heart-rate-only device takes no commands"
