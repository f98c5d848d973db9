"""One connected band: identify it, set its clock, and keep its record log synced.

The sync loop is the no-loss core: fetch a page of records from the cursor, put
them into the durable spool and advance the cursor in one SQLite transaction, and
only then tell the band it may forget those records. The gateway's drainer
publishes the spool with QoS 1 and forgets a message once the broker acked it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from bleak import BleakClient
from pydantic import ValidationError

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import (
    CommandRequest,
    LiveHeartRate,
    LiveRawAccel,
    RejectedData,
)
from gateway.band_clock import SET_TOLERANCE_S, BandClock, local_time_information
from gateway.band_commands import InvalidCommand, SetTimeZone, ShowAlert, band_request
from gateway.page_pacer import PagePacer
from gateway.records import spool_messages
from gateway.session import SessionContext, SessionStats
from gateway.state import ClockEpoch, RawFrame

log = logging.getLogger(__name__)
T = TypeVar("T")

_IDLE_POLL_S = 5.0
_CHECK_EVERY_S = 0.25  # how often a wait for a band checks the link is still there
# Without these a band cannot be synced; everything else is optional (docs/gatt.md).
MANDATORY = (g.SERIAL_NUMBER, g.CURRENT_TIME, g.LOG_STATUS, g.LOG_DATA, g.LOG_CONTROL)


class SessionError(RuntimeError):
    """The band did not follow the procedure; the session ends and is retried."""


class BandSession:
    """A bandhub band: a :class:`~gateway.session.RecordLogSession` that also takes
    commands and streams live values."""

    def __init__(self, client: BleakClient, context: SessionContext) -> None:
        self.client = client
        self.publisher = context.publisher
        self.state = context.state
        self.options = context.options
        self.topics = context.topics
        self.on_spooled = context.on_spooled
        self.check_band = context.check_band
        self.stats = SessionStats()
        self._decoder = g.FrameDecoder()
        self._urgent_decoder = g.FrameDecoder()  # its own stream: interleaves with pages
        self._page: list[g.Record] = []
        self._log_responses: asyncio.Queue[g.LogResponse] = asyncio.Queue()
        self._cmd_responses: asyncio.Queue[tuple[int, g.CommandStatus]] = asyncio.Queue()
        self._status_changed = asyncio.Event()
        self._log_status = g.LogStatus(0, 0)
        self._raw_page: list[RawFrame] = []
        self._page_bytes = 0
        self._data_at = time.monotonic()  # last Log Data notification
        self.pacer = PagePacer(self.options.page_size, stall_s=self.options.stall_s)
        self.clock = BandClock()
        self._cmd_lock = asyncio.Lock()
        self._log_lock = asyncio.Lock()

    @property
    def band_id(self) -> str:
        return self.stats.band_id

    @property
    def cursor(self) -> int:
        return max(self.state.cursor(self.band_id), self._log_status.first_seq)

    @property
    def backlog(self) -> int:
        return max(0, self._log_status.next_seq - self.cursor)

    async def open(self, address: str) -> str:
        """Identify the band (by its serial number, not ``address``), measure and set its
        clock and subscribe; returns its band id."""
        c = self.client
        missing = [u for u in MANDATORY if c.services.get_characteristic(u) is None]
        if missing:
            raise SessionError(f"band lacks mandatory characteristics {', '.join(missing)}")
        if self.options.pair:
            await c.pair()  # LE Secure Connections; a bonded band re-encrypts with its keys
        self.stats.band_id = (await c.read_gatt_char(g.SERIAL_NUMBER)).decode().strip()
        self.check_band(self.band_id)
        if self._has(g.FIRMWARE_REVISION):
            self.stats.firmware = (await c.read_gatt_char(g.FIRMWARE_REVISION)).decode().strip()
        await self._measure_and_set_clock()
        if self._has(g.BATTERY_LEVEL):
            level = bytes(await c.read_gatt_char(g.BATTERY_LEVEL))
            self.stats.battery = g.decode_battery_level(level)
        await c.start_notify(g.LOG_DATA, self._on_log_data)
        await c.start_notify(g.LOG_CONTROL, self._on_log_control)
        # Optional: a band without Log Status notifications is polled every few seconds;
        # one without the others still syncs everything through its log.
        optional = {
            g.LOG_STATUS: self._on_log_status,
            g.CONTROL_POINT: self._on_control_point,
            g.BATTERY_LEVEL: self._on_battery,
            g.URGENT_RECORDS: self._on_urgent,
            g.HEART_RATE_MEASUREMENT: self._on_live_hr,
            g.RAW_ACCEL: self._on_raw_accel,
        }
        for uuid, handler in optional.items():
            char = c.services.get_characteristic(uuid)
            if char is not None and {"notify", "indicate"} & set(char.properties):
                await c.start_notify(uuid, handler)
        self._log_status = await self._read_log_status()
        log.info(
            "band %s (%s) connected: log %s..%s, clock offset %+.1f s",
            self.band_id,
            self.stats.firmware,
            self._log_status.first_seq,
            self._log_status.next_seq,
            self.stats.clock_offset_s,
        )
        return self.band_id

    def _has(self, uuid: str) -> bool:
        return self.client.services.get_characteristic(uuid) is not None

    async def _band_offset(self) -> float:
        band_now = g.decode_current_time(bytes(await self.client.read_gatt_char(g.CURRENT_TIME)))
        return band_now.timestamp() - time.time()

    async def _measure_and_set_clock(self) -> None:
        """Measure the offset *before* setting the clock, and keep it (durably) for the
        records made until then: they were stamped by the old clock."""
        before = await self._band_offset()
        clock = BandClock(before, self.state.clock_epochs(self.band_id))
        if self.options.set_clock:
            from_seq = (await self._read_log_status()).next_seq
            set_at = time.time()
            await self.client.write_gatt_char(
                g.CURRENT_TIME, g.encode_current_time(dt.datetime.now(dt.UTC)), response=True
            )
            before_seq = (await self._read_log_status()).next_seq
            clock.offset_s = await self._band_offset()
            if abs(before - clock.offset_s) > SET_TOLERANCE_S:
                epoch = ClockEpoch(from_seq, before_seq, before, set_at)
                self.state.add_clock_epoch(self.band_id, epoch)
                clock.epochs.append(epoch)
                log.info(
                    "band %s: clock was %+.0f s off; records before seq %d keep that offset",
                    self.band_id, before, before_seq,
                )  # fmt: skip
        self.clock = clock
        self.stats.clock_offset_s = clock.offset_s
        await self._write_local_time()

    async def _write_local_time(self) -> bool:
        """The wearer's offset now (their zone as the server last sent it), so the band's
        day and step count start at local midnight; False when the band cannot take it."""
        zone = self.state.band_zone(self.band_id)
        if not self._has(g.LOCAL_TIME_INFORMATION):
            return False
        if zone is not None:
            info = local_time_information(zone, dt.datetime.now(dt.UTC))
            await self.client.write_gatt_char(g.LOCAL_TIME_INFORMATION, info, response=True)
        return True

    async def _read_log_status(self) -> g.LogStatus:
        return g.decode_log_status(bytes(await self.client.read_gatt_char(g.LOG_STATUS)))

    async def sync_forever(self) -> None:
        """Keep the band's record log drained until the link drops."""
        while self.client.is_connected:
            cursor = self.cursor
            if self._log_status.next_seq > cursor and await self.sync_page(cursor):
                continue
            self._status_changed.clear()
            try:
                async with asyncio.timeout(_IDLE_POLL_S):  # not wait_for: keeps cancellation
                    await self._status_changed.wait()
            except TimeoutError:  # no news: re-read, which also keeps the link busy
                self._log_status = await self._read_log_status()
                self.stats.alive_at = time.monotonic()

    async def sync_page(self, cursor: int) -> int:
        """Fetch, spool and acknowledge one page of records; returns how many frames it
        held (0: nothing to fetch after all)."""
        while self.state.spool_bytes >= self.options.spool_max_bytes:
            # Spool full (broker away for long): stop reading; the band keeps its records.
            await asyncio.sleep(0.5)
        async with self._log_lock:
            self._decoder.reset()
            self._page, self._raw_page, self._page_bytes = [], [], 0
            _drain(self._log_responses)
            started = self._data_at = time.monotonic()
            await self.client.write_gatt_char(
                g.LOG_CONTROL, g.encode_report_from(cursor, self.pacer.size), response=True
            )
            resp = await self._log_response(g.LogOp.REPORT_FROM, self.pacer.time_limit_s())
            if resp.status == g.LogStatusCode.NO_RECORDS:
                self._log_status = await self._read_log_status()
                return 0
            if resp.status != g.LogStatusCode.SUCCESS:
                raise SessionError(f"band refused report from {cursor}: {resp.status.name}")
            if self._decoder.pending_bytes:
                raise SessionError(f"{self._decoder.pending_bytes} bytes of a frame went missing")
            held = _held_through(cursor, [r.seq for r in self._page + self._raw_page])
            if held != resp.last_seq:
                log.warning(
                    "band %s: says it sent through seq %s, gateway holds through %s%s",
                    self.band_id, resp.last_seq, held,
                    "" if held is None else "; acknowledging what it holds",
                )  # fmt: skip
            if held is None:  # nothing from the cursor on came: ask again after a pause
                self._log_status = await self._read_log_status()
                return 0
            records = [r for r in self._page if cursor <= r.seq <= held]
            raws = [r for r in self._raw_page if cursor <= r.seq <= held]
            elapsed = time.monotonic() - started
            self.pacer.page_done(self._page_bytes, len(records) + len(raws), elapsed)
            self._spool(records, held + 1, raws)
            await self.client.write_gatt_char(
                g.LOG_CONTROL, g.encode_delete_through(held), response=True
            )
            deleted = await self._log_response(g.LogOp.DELETE_THROUGH, self.pacer.stall_s)
            if deleted.status != g.LogStatusCode.SUCCESS:  # it sends them again: stored once
                log.warning("band %s: delete through %d refused: %s",
                            self.band_id, held, deleted.status.name)  # fmt: skip
            self._log_status = g.LogStatus(held + 1, max(held + 1, self._log_status.next_seq))
            return len(records) + len(raws)

    def _messages(self, records: list[g.Record]) -> list[tuple[int, str, str]]:
        return spool_messages(
            records,
            topics=self.topics,
            band_id=self.band_id,
            gateway_id=self.options.gateway_id,
            clock_offset_s=self.clock.restamp,
            max_records=self.options.batch_max,
        )

    def _spool(self, records: list[g.Record], next_seq: int, raws: list[RawFrame]) -> None:
        """Records, and the reports of frames that did not decode, into the spool with the
        new cursor in one transaction; the raw frames also go to the raw archive, so the
        band may forget them too (a newer decoder can read them later)."""
        reports = [
            (2, self.topics.rejected(self.band_id), self._rejected_json(f.reason, f.raw))
            for f in raws
        ]
        self.state.spool_and_advance(
            self.band_id, self._messages(records) + reports, next_seq, raws
        )
        self.stats.records_spooled += len(records)
        self.on_spooled(self.band_id, len(records))

    async def _log_response(self, op: g.LogOp, limit_s: float) -> g.LogResponse:
        """The band's response to ``op``. Gives up at once when the link drops, after
        ``stall_s`` without any Log Data byte or response, or after ``limit_s``."""
        started = time.monotonic()
        while True:
            if not self.client.is_connected:
                raise SessionError(f"link dropped while waiting for the {op.name} response")
            now = time.monotonic()
            if now - max(self._data_at, started) > self.pacer.stall_s:
                raise SessionError(f"no {op.name} progress for {self.pacer.stall_s:.0f} s")
            if now - started > limit_s:
                raise SessionError(f"{op.name} took over {limit_s:.0f} s")
            try:
                resp = await asyncio.wait_for(self._log_responses.get(), _CHECK_EVERY_S)
            except TimeoutError:
                continue
            if resp.request == op:
                return resp

    async def run_command(self, req: CommandRequest) -> tuple[str, str]:
        """Relay a command to the band; returns (status, detail) for the result topic."""
        try:
            request = band_request(req)
        except InvalidCommand as exc:
            return "invalid", str(exc)
        if isinstance(request, SetTimeZone):
            self.state.set_band_zone(self.band_id, request.zone)
            if not await self._write_local_time():
                return "unsupported", "band has no Local Time Information"
            return "ok", f"band's day follows {request.zone}"
        if isinstance(request, ShowAlert):
            if not self._has(g.NEW_ALERT):
                return "unsupported", "band has no Alert Notification service"
            await self.client.write_gatt_char(g.NEW_ALERT, request.value, response=True)
            return "ok", request.shown
        if not self._has(g.CONTROL_POINT):
            return "unsupported", "band has no Control Point"
        return await self._command(request.op, request.operand)

    async def _command(self, op: g.Command, operand: bytes) -> tuple[str, str]:
        async with self._cmd_lock:
            _drain(self._cmd_responses)
            await self.client.write_gatt_char(
                g.CONTROL_POINT, g.encode_command(op, operand), response=True
            )
            while True:
                cmd, status = await asyncio.wait_for(self._cmd_responses.get(), 10.0)
                if cmd == op:
                    break
        if status == g.CommandStatus.SUCCESS:
            return "ok", ""
        return ("unsupported" if status == g.CommandStatus.UNSUPPORTED else "failed"), status.name

    # --- notification handlers (bleak calls these on the event loop) -----------------
    def _on_log_data(self, _char, data: bytearray) -> None:
        self._data_at = self.stats.alive_at = time.monotonic()
        self._page_bytes += len(data)
        for item in self._decoder.feed(bytes(data)):
            if isinstance(item, g.DecodeError):
                # kept whole and spooled with the page (see _spool), not just reported
                self.stats.rejected += 1
                log.warning("band %s: undecodable record frame: %s", self.band_id, item)
                seq = int.from_bytes(item.raw[2:6], "little")
                self._raw_page.append(RawFrame(self.band_id, seq, str(item), item.raw))
            else:
                self._page.append(item)

    def _decoded(self, what: str, decode: Callable[[bytes], T], data: bytearray) -> T | None:
        """Decode a notification, or report it as rejected and return None."""
        try:
            return decode(bytes(data))
        except g.DecodeError as exc:
            self._reject(f"{what}: {exc}", bytes(data))
            return None

    def _on_log_control(self, _char, data: bytearray) -> None:
        if (resp := self._decoded("log control", g.decode_log_response, data)) is not None:
            self._log_responses.put_nowait(resp)

    def _on_log_status(self, _char, data: bytearray) -> None:
        self.stats.alive_at = time.monotonic()
        if (status := self._decoded("log status", g.decode_log_status, data)) is not None:
            self._log_status = status
            self._status_changed.set()

    def _on_control_point(self, _char, data: bytearray) -> None:
        if (resp := self._decoded("control point", g.decode_command_response, data)) is not None:
            self._cmd_responses.put_nowait(resp)

    def _on_urgent(self, _char, data: bytearray) -> None:
        """A fall or button record the moment the band made it: spool it ahead of the
        backlog (priority 0) without moving the cursor. The log delivers the same seq
        again later; ingest stores it once, so the no-loss procedure is untouched."""
        self.stats.alive_at = time.monotonic()
        records = []
        for item in self._urgent_decoder.feed(bytes(data)):
            if isinstance(item, g.DecodeError):
                self._reject(f"urgent {item}", item.raw)
            else:
                records.append(item)
        if records and self.band_id:
            self.state.spool(self._messages(records))
            self.on_spooled(self.band_id, 0)
            log.info(
                "band %s: urgent %s spooled ahead of the log",
                self.band_id, ", ".join(f"{r.type.name} seq {r.seq}" for r in records),
            )  # fmt: skip

    def _on_live_hr(self, _char, data: bytearray) -> None:
        self.stats.alive_at = time.monotonic()
        if (m := self._decoded("heart rate", g.decode_heart_rate, data)) is None:
            return
        live = {"bpm": m.bpm, "contact": m.contact, "at": round(time.time(), 3)}
        self._publish_live(self.topics.live_hr(self.band_id), LiveHeartRate, live, data)

    def _on_raw_accel(self, _char, data: bytearray) -> None:
        if (chunk := self._decoded("raw accel", g.RawAccelChunk.decode, data)) is None:
            return
        raw = {
            "fs_hz": chunk.fs_hz, "first_sample": chunk.first_sample,
            "received_at": round(time.time(), 3),
            "ax_g": [v / 1000 for v in chunk.ax_mg], "ay_g": [v / 1000 for v in chunk.ay_mg],
            "az_g": [v / 1000 for v in chunk.az_mg],
        }  # fmt: skip
        self._publish_live(self.topics.raw_accel(self.band_id), LiveRawAccel, raw, data)

    def _publish_live(
        self, topic: str, model: type[LiveHeartRate | LiveRawAccel], fields: dict, data: bytearray
    ) -> None:
        """QoS 0, straight away: the contract's model checks it, and what it refuses goes
        to ``…/rejected`` like any other malformed notification."""
        try:
            message = model(v=1, band_id=self.band_id, **fields)
        except ValidationError as exc:
            self._reject(f"{model.__name__}: {exc.errors()[0]['msg']}", bytes(data))
            return
        self.publisher.publish(topic, message.model_dump_json(), qos=0)

    def _on_battery(self, _char, data: bytearray) -> None:
        if (level := self._decoded("battery", g.decode_battery_level, data)) is not None:
            self.stats.battery = level

    def _reject(self, reason: str, raw: bytes) -> None:
        """A malformed notification: log it and publish it for inspection, keep going."""
        self.stats.rejected += 1
        log.warning("band %s: rejected notification: %s", self.band_id, reason)
        self.publisher.publish(
            self.topics.rejected(self.band_id or "unknown"), self._rejected_json(reason, raw)
        )

    def _rejected_json(self, reason: str, raw: bytes) -> str:
        return RejectedData(
            v=1, band_id=self.band_id or None, reason=reason, raw_hex=raw.hex(), at=time.time()
        ).model_dump_json()


def _held_through(cursor: int, seqs: list[int]) -> int | None:
    """The last seq of the unbroken run of frames the gateway holds from the first one
    at or after ``cursor``: what it may let the band forget, whatever the band claims."""
    held = None
    for seq in sorted({s for s in seqs if s >= cursor}):
        if held is not None and seq != held + 1:
            break
        held = seq
    return held


def _drain(q: asyncio.Queue) -> None:
    while not q.empty():
        q.get_nowait()
