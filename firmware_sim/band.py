"""One simulated band: a bumble peripheral serving the bandhub GATT profile.

The band makes records from its physiology model as its clock advances, keeps them
in its record log until the gateway says it may drop them, and answers the record
log procedure and commands of docs/gatt.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from bumble.att import Attribute
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink

from bandhub.bumble_keys import BlindMemoryKeyStore
from bandhub.contracts import gatt as g
from firmware_sim.clock import SimClock
from firmware_sim.physiology import DayPlan, SimulatedDay, fall_window, simulate_day
from firmware_sim.record_log import RecordLog

log = logging.getLogger(__name__)

_MANUFACTURER = "bandhub"
_MODEL = "BH-1 (simulated)"
_FIRMWARE = "sim-1.0.0"
_LIVE_PERIOD_S = 1.0  # real seconds between live notifications (HR, steps, log status)
_TICK_S = 0.05
_FALL_FS_HZ = 50


class _PasskeyDisplay(PairingDelegate):
    """The band's screen during pairing: shows a fresh six-digit passkey."""

    def __init__(self, band: SimulatedBand) -> None:
        super().__init__(io_capability=PairingDelegate.DISPLAY_OUTPUT_ONLY)
        self._band = band

    async def generate_passkey(self) -> int:
        return secrets.randbelow(1_000_000)

    async def display_number(self, number: int, digits: int) -> None:
        self._band.shown_passkey = f"{number:0{digits}d}"
        self._band._event("passkey", self._band.shown_passkey)


def _mg(a: np.ndarray) -> tuple[int, ...]:
    """Acceleration in g as the band's i16 milli-g values."""
    return tuple(int(v) for v in np.clip(np.round(a * 1000), -32768, 32767))


@dataclass
class BandConfig:
    """What makes one simulated band: identity, wearer, and how its time runs."""

    serial: str
    address: str
    start: dt.datetime  # band clock at start (UTC)
    speed: float = 1.0
    seed: int = 1
    resting_hr: float = 60.0
    fall_at: dt.datetime | None = None  # when the wearer falls (band clock)
    hr_interval_s: int = 5
    log_capacity: int = 200_000
    im_ok_after_s: float | None = None  # wearer presses "I'm OK" this long into a countdown
    stop_at: dt.datetime | None = None  # band stops making records at this band time
    passkey: bool = False  # has a display: pairing shows a passkey (no Just Works bonds)

    @property
    def name(self) -> str:
        return self.serial


@dataclass
class BandEvent:
    """Something the wearer would notice (vibration, a message on screen)."""

    band_time: float
    kind: str
    detail: str = ""


@dataclass
class _Chars:
    hr: Characteristic
    battery: Characteristic
    current_time: Characteristic
    local_time: Characteristic
    steps: Characteristic
    log_status: Characteristic
    log_data: Characteristic
    log_control: Characteristic
    control_point: Characteristic
    alert_level: Characteristic
    new_alert: Characteristic
    urgent: Characteristic
    raw_accel: Characteristic


@dataclass
class _State:
    generated_until: int = 0  # band unix second up to which records exist
    steps_today: int = 0
    steps_day: int = -1  # the local day (days since 1970) the counter is for
    utc_offset_s: int = 0  # the wearer's, from Local Time Information: local midnight
    local_time_information: bytes = b"\x00\x00"  # as written (UTC until then)
    battery: float = 90.0
    last_hr: int = 0
    connection: Connection | None = None
    transfer: asyncio.Task | None = None
    countdown: asyncio.Task | None = None
    raw_stream: asyncio.Task | None = None
    events: list[BandEvent] = field(default_factory=list)


class SimulatedBand:
    """A band on ``link``; ``start()`` powers it on and begins advertising."""

    def __init__(self, config: BandConfig, link: LocalLink) -> None:
        self.config = config
        self.clock = SimClock(config.start.timestamp(), config.speed)
        self.log = RecordLog(config.log_capacity)
        self.hr_interval_s = config.hr_interval_s
        self._days: dict[dt.date, SimulatedDay] = {}
        self._state = _State(generated_until=int(config.start.timestamp()))
        self._state.battery = 70.0 + (config.seed * 7) % 30
        self._rng = np.random.default_rng(config.seed)
        self._listeners: list[Callable[[BandEvent], None]] = []
        self.controller = Controller(
            f"ctl-{config.serial}", link=link, public_address=config.address
        )
        self.controller.le_acl_data_packet_length = 251
        self.controller.acl_data_packet_length = 251
        host = Host(self.controller, AsyncPipeSink(self.controller))
        self.device = Device(name=config.name, address=Address(config.address), host=host)
        self.device.keystore = BlindMemoryKeyStore()  # bonds live as long as the band
        if config.passkey:
            self.device.pairing_config_factory = lambda _conn: PairingConfig(
                sc=True, mitm=True, bonding=True, delegate=_PasskeyDisplay(self)
            )
        self._chars = self._build_gatt()
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.corrupt_seqs: set[int] = set()  # records sent with a bad frame, for tests
        self.profile: g.Profile | None = None
        self.alarms: dict[int, g.Alarm] = {}
        self._alarm_minute: int | None = None
        self._produced = {t: 0 for t in g.RecordType}
        self.stopped = asyncio.Event()
        self.shown_passkey: str | None = None  # what the band's screen shows while pairing

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        await self._ensure_day(self._band_date(self.clock.now()))
        await self.device.power_on()
        await self._advertise()
        self._start_tasks()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.drop_link()

    async def go_silent(self) -> None:
        """Fault injection: the band's radio stops mid-connection without a goodbye
        (nothing sent, nothing answered), as a crashed firmware or a dead adapter looks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.controller.link.remove_controller(self.controller)

    async def wake(self) -> None:
        """Undo ``go_silent``: the radio comes back (its old connection timed out, as link
        supervision would end it), advertises again and goes on making records."""
        self.controller.link.add_controller(self.controller)
        await self.drop_link()
        if self._state.connection is not None:  # the peer no longer knew it: forget it
            self._on_disconnect(0x08)  # connection timeout
        if not self.device.is_advertising:
            await self._advertise()
        self._start_tasks()

    def _start_tasks(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run_records(), name=f"{self.config.serial}-records"),
            asyncio.create_task(self._run_live(), name=f"{self.config.serial}-live"),
        ]

    async def drop_link(self) -> None:
        """Disconnect the gateway, as walking out of range does."""
        conn = self._state.connection
        if conn is not None:
            try:
                # bounded: bumble waits for a disconnection event a vanished peer never sends
                await asyncio.wait_for(conn.disconnect(), 5.0)
            except (Exception, TimeoutError) as exc:  # the link may already be gone
                log.debug("%s: disconnect failed: %s", self.config.serial, exc)

    # --- what the tests and runner can see ------------------------------------------
    @property
    def events(self) -> list[BandEvent]:
        return list(self._state.events)

    @property
    def is_connected(self) -> bool:
        return self._state.connection is not None

    @property
    def simulated_days(self) -> dict[dt.date, SimulatedDay]:
        """The days this band has simulated so far: its ground truth."""
        return dict(self._days)

    def on_event(self, callback: Callable[[BandEvent], None]) -> None:
        self._listeners.append(callback)

    def produced(self) -> dict[g.RecordType, int]:
        """How many records of each type the band has made (its ground truth count)."""
        return dict(self._produced)

    def press_button(self, press: g.ButtonPress = g.ButtonPress.IM_OK) -> None:
        self._append(g.RecordType.BUTTON, int(self.clock.now()), press)
        self._event("button", press.name)
        if press == g.ButtonPress.IM_OK and self._state.countdown:
            self._state.countdown.cancel()

    # --- GATT -----------------------------------------------------------------------
    def _build_gatt(self) -> _Chars:
        def ro(uuid: str, value: bytes) -> Characteristic:
            return Characteristic(uuid, Characteristic.Properties.READ, "READABLE", value)

        def dyn(uuid: str, props, read=None, write=None) -> Characteristic:
            perms = Attribute.Permissions(0)
            if read:
                perms |= Attribute.Permissions.READABLE
            if write:
                perms |= Attribute.Permissions.WRITEABLE
            return Characteristic(uuid, props, perms, CharacteristicValue(read=read, write=write))

        P = Characteristic.Properties
        chars = _Chars(
            hr=dyn(g.HEART_RATE_MEASUREMENT, P.NOTIFY),
            battery=dyn(
                g.BATTERY_LEVEL, P.READ | P.NOTIFY, read=lambda _c: bytes([self._battery_level])
            ),
            current_time=dyn(
                g.CURRENT_TIME,
                P.READ | P.WRITE | P.NOTIFY,
                read=lambda _c: g.encode_current_time(
                    dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
                ),
                write=self._on_time_write,
            ),
            local_time=dyn(
                g.LOCAL_TIME_INFORMATION,
                P.READ | P.WRITE,
                read=lambda _c: self._local_time_information(),
                write=self._on_local_time_write,
            ),
            steps=dyn(
                g.STEPS, P.READ | P.NOTIFY, read=lambda _c: g.encode_steps(self._steps_now())
            ),
            log_status=dyn(
                g.LOG_STATUS,
                P.READ | P.NOTIFY,
                read=lambda _c: g.encode_log_status(self.log.status),
            ),
            log_data=dyn(g.LOG_DATA, P.NOTIFY),
            log_control=dyn(g.LOG_CONTROL, P.WRITE | P.INDICATE, write=self._on_log_control),
            control_point=dyn(g.CONTROL_POINT, P.WRITE | P.INDICATE, write=self._on_command),
            alert_level=dyn(g.ALERT_LEVEL, P.WRITE_WITHOUT_RESPONSE, write=self._on_alert_level),
            new_alert=dyn(g.NEW_ALERT, P.WRITE | P.NOTIFY, write=self._on_new_alert),
            urgent=dyn(g.URGENT_RECORDS, P.NOTIFY),
            raw_accel=dyn(g.RAW_ACCEL, P.NOTIFY),
        )
        self.device.add_services(
            [
                Service(
                    g.DEVICE_INFORMATION_SERVICE,
                    [
                        ro(g.MANUFACTURER_NAME, _MANUFACTURER.encode()),
                        ro(g.MODEL_NUMBER, _MODEL.encode()),
                        ro(g.SERIAL_NUMBER, self.config.serial.encode()),
                        ro(g.FIRMWARE_REVISION, _FIRMWARE.encode()),
                    ],
                ),
                Service(g.BATTERY_SERVICE, [chars.battery]),
                Service(g.HEART_RATE_SERVICE, [chars.hr, ro(g.BODY_SENSOR_LOCATION, b"\x02")]),
                Service(g.CURRENT_TIME_SERVICE, [chars.current_time, chars.local_time]),
                Service(g.IMMEDIATE_ALERT_SERVICE, [chars.alert_level]),
                Service(
                    g.ALERT_NOTIFICATION_SERVICE,
                    [chars.new_alert, ro(g.SUPPORTED_NEW_ALERT_CATEGORY, b"\xff\x03")],
                ),
                Service(
                    g.VENDOR_SERVICE,
                    [
                        chars.steps,
                        chars.log_status,
                        chars.log_data,
                        chars.log_control,
                        chars.control_point,
                        chars.urgent,
                        chars.raw_accel,
                    ],
                ),
            ]
        )
        return chars

    async def _advertise(self) -> None:
        vendor = bytes(UUID(g.VENDOR_SERVICE))
        adv = AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, vendor),
                (AdvertisingData.COMPLETE_LOCAL_NAME, self.config.name.encode()[:8]),
            ]
        )
        scan_rsp = AdvertisingData(
            [(AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x0d\x18\x0f\x18")]
        )
        await self.device.start_advertising(
            advertising_data=bytes(adv),
            scan_response_data=bytes(scan_rsp),
            auto_restart=True,
            advertising_interval_min=20.0,
            advertising_interval_max=20.0,
        )

    def _on_connection(self, connection: Connection) -> None:
        self._state.connection = connection
        if self.config.passkey:
            connection.on(connection.EVENT_PAIRING, self._check_pairing)
        self._event("connected", str(connection.peer_address))
        connection.on(connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnect(reason))

    def _check_pairing(self, keys) -> None:
        """A band with a display bonds only after passkey entry: a Just Works pairing
        (anyone in range, no passkey) is forgotten and the link dropped."""
        if keys.ltk is not None and keys.ltk.authenticated:
            self._event("paired", "passkey entry")
            return
        self._event("pairing_refused", "not authenticated by passkey")
        conn = self._state.connection
        if conn is not None:
            self._spawn(self._forget_and_drop(str(conn.peer_address)))

    async def _forget_and_drop(self, peer: str) -> None:
        if self.device.keystore is not None:
            with contextlib.suppress(KeyError):
                await self.device.keystore.delete(peer)
        await self.drop_link()

    def _on_disconnect(self, reason: int) -> None:
        self._state.connection = None
        if self._state.transfer:
            self._state.transfer.cancel()
        if self._state.raw_stream:  # streaming is per connection; it stops with the link
            self._state.raw_stream.cancel()
            self._state.raw_stream = None
        self._event("disconnected", f"reason 0x{reason:02x}")

    # --- writes from the gateway ------------------------------------------------------
    def _on_time_write(self, _conn: Connection, value: bytes) -> None:
        new = g.decode_current_time(bytes(value)).timestamp()
        old = self.clock.now()
        self.clock.set(new)
        if new > old + 60:  # a forward jump skips the gap rather than inventing it
            self._state.generated_until = int(new)
        self._event("clock_set", f"drift {old - new:+.1f} s")

    def _local_time_information(self) -> bytes:
        return self._state.local_time_information

    def _on_local_time_write(self, _conn: Connection, value: bytes) -> None:
        """The wearer's offset from UTC: the daily step counter resets at local midnight."""
        try:
            self._state.utc_offset_s = g.decode_local_time_information(bytes(value))
            self._state.local_time_information = bytes(value)
        except g.DecodeError as exc:
            self._event("local_time_refused", str(exc))
            return
        self._event("local_time_set", f"{self._state.utc_offset_s:+d} s")

    def _on_log_control(self, conn: Connection, value: bytes) -> None:
        value = bytes(value)
        op = value[0] if value else -1
        if op == g.LogOp.REPORT_FROM and len(value) == 7:
            from_seq = int.from_bytes(value[1:5], "little")
            max_count = int.from_bytes(value[5:7], "little")
            if self._state.transfer and not self._state.transfer.done():
                self._respond_log(conn, op, g.LogStatusCode.BUSY, 0, 0)
            else:
                self._state.transfer = asyncio.create_task(
                    self._transfer(conn, from_seq, max_count)
                )
        elif op == g.LogOp.DELETE_THROUGH and len(value) == 5:
            seq = int.from_bytes(value[1:5], "little")
            if seq >= self.log.status.next_seq:  # never sent: delete nothing (docs/gatt.md)
                self._respond_log(conn, op, g.LogStatusCode.INVALID_OPERAND, 0, 0)
                return
            removed = self.log.delete_through(seq)
            self._respond_log(conn, op, g.LogStatusCode.SUCCESS, seq, min(removed, 0xFFFF))
        elif op in (g.LogOp.REPORT_FROM, g.LogOp.DELETE_THROUGH):
            self._respond_log(conn, op, g.LogStatusCode.INVALID_OPERAND, 0, 0)
        else:
            self._respond_log(conn, max(op, 0), g.LogStatusCode.UNSUPPORTED_OP, 0, 0)

    async def _transfer(self, conn: Connection, from_seq: int, max_count: int) -> None:
        records = list(self.log.read_from(from_seq, max_count))
        if not records:
            await self._indicate_log(conn, g.LogOp.REPORT_FROM, g.LogStatusCode.NO_RECORDS, 0, 0)
            return
        stream = b"".join(self._frame(r) for r in records)
        await self._notify_stream(conn, self._chars.log_data, stream)
        await self._indicate_log(
            conn, g.LogOp.REPORT_FROM, g.LogStatusCode.SUCCESS, records[-1].seq, len(records)
        )

    def _frame(self, rec: g.Record) -> bytes:
        frame = g.encode_record(rec)
        if rec.seq in self.corrupt_seqs:  # fault injection: an unknown record type
            frame = frame[:6] + bytes([0x7F]) + frame[7:]
        return frame

    def _respond_log(self, conn: Connection, op: int, status, last: int, count: int) -> None:
        self._spawn(self._indicate_log(conn, op, status, last, count))

    async def _indicate_log(self, conn: Connection, op: int, status, last: int, count: int):
        resp = g.encode_log_response(g.LogResponse(op, status, last, count))
        try:
            await self.device.indicate_subscriber(conn, self._chars.log_control, resp)
        except Exception as exc:  # gateway went away mid-procedure
            log.debug("%s: log response not delivered: %s", self.config.serial, exc)

    def _on_command(self, conn: Connection, value: bytes) -> None:
        try:
            op, operand = g.decode_command(bytes(value))
        except g.DecodeError:
            return
        status = self._run_command(op, operand)
        resp = g.encode_command_response(op, status)
        self._spawn(self._indicate(conn, self._chars.control_point, resp))

    def _run_command(self, op: int, operand: bytes) -> g.CommandStatus:
        try:
            cmd = g.Command(op)
        except ValueError:
            return g.CommandStatus.UNSUPPORTED
        if cmd in (g.Command.FIND_BAND, g.Command.VIBRATE):
            self._event("vibrate", cmd.name.lower())
        elif cmd == g.Command.FALL_COUNTDOWN:
            if len(operand) != 2:
                return g.CommandStatus.INVALID_OPERAND
            seconds = int.from_bytes(operand, "little")
            self._event("countdown", f"{seconds} s")
            if self._state.countdown:
                self._state.countdown.cancel()
            self._state.countdown = asyncio.create_task(self._countdown(seconds))
        elif cmd == g.Command.FALL_COUNTDOWN_CANCEL:
            if self._state.countdown:
                self._state.countdown.cancel()
            self._event("countdown_cancelled")
        elif cmd == g.Command.SET_HR_INTERVAL:
            if len(operand) != 2 or int.from_bytes(operand, "little") == 0:
                return g.CommandStatus.INVALID_OPERAND
            self.hr_interval_s = int.from_bytes(operand, "little")
            self._event("hr_interval", str(self.hr_interval_s))
        elif cmd == g.Command.SET_PROFILE:
            try:
                self.profile = g.Profile.decode(operand)
            except g.DecodeError:
                return g.CommandStatus.INVALID_OPERAND
            p = self.profile
            self._event("profile", f"{p.age} y, {p.height_cm} cm, {p.weight_kg} kg")
        elif cmd == g.Command.SET_ALARM:
            try:
                alarm = g.Alarm.decode(operand)
            except g.DecodeError:
                return g.CommandStatus.INVALID_OPERAND
            if alarm.weekdays:
                self.alarms[alarm.slot] = alarm
            else:
                self.alarms.pop(alarm.slot, None)
            self._event("alarm_set", f"slot {alarm.slot} {alarm.hour:02d}:{alarm.minute:02d}")
        elif cmd == g.Command.SET_RAW_STREAM:
            if len(operand) != 1 or operand[0] > 100:
                return g.CommandStatus.INVALID_OPERAND
            if self._state.raw_stream:
                self._state.raw_stream.cancel()
                self._state.raw_stream = None
            if operand[0]:
                self._state.raw_stream = asyncio.create_task(self._stream_raw(operand[0]))
            self._event("raw_stream", f"{operand[0]} Hz" if operand[0] else "off")
        elif cmd == g.Command.REBOOT:
            self._event("reboot")
            asyncio.get_running_loop().call_later(
                0.2, lambda: asyncio.create_task(self.drop_link())
            )
        else:
            return g.CommandStatus.UNSUPPORTED
        return g.CommandStatus.SUCCESS

    async def _countdown(self, seconds: int) -> None:
        """The wearer sees "Are you OK?"; a simulated wearer may press the button."""
        respond = self.config.im_ok_after_s  # real seconds: the countdown is a person's time
        if respond is not None and respond <= seconds:
            await asyncio.sleep(respond)
            self._state.countdown = None
            self.press_button(g.ButtonPress.IM_OK)

    def _on_alert_level(self, _conn: Connection, value: bytes) -> None:
        level = bytes(value)[0] if value else 0
        self._event("vibrate" if level else "vibrate_stop", f"alert level {level}")

    def _on_new_alert(self, _conn: Connection, value: bytes) -> None:
        try:
            category, count, text = g.decode_new_alert(bytes(value))
        except g.DecodeError as exc:
            self._event("bad_alert", str(exc))
            return
        self._event("message", f"{category.name}: {text} ({count})")

    async def _indicate(self, conn: Connection, char: Characteristic, value: bytes) -> None:
        try:
            await self.device.indicate_subscriber(conn, char, value)
        except Exception as exc:
            log.debug("%s: indication not delivered: %s", self.config.serial, exc)

    # --- record making ----------------------------------------------------------------
    async def _run_records(self) -> None:
        while True:
            now = int(self.clock.now())
            stop = int(self.config.stop_at.timestamp()) if self.config.stop_at else None
            if stop is not None:
                now = min(now, stop)  # whole band seconds: a fractional stop time ends too
            start = self._state.generated_until
            if now > start:
                await self._ensure_day(self._band_date(now))
                self._make_records(start, now)
                self._state.generated_until = now
            if stop is not None and now >= stop:
                self.stopped.set()
            await asyncio.sleep(_TICK_S)

    def _make_records(self, start: int, end: int) -> None:
        """Records for band seconds in [start, end), in time order."""
        for t in range(start, end):
            day = self._days.get(self._band_date(t))
            if day is None:  # only the day in progress is simulated
                continue
            s = t - day.midnight
            local_day = (t + self._state.utc_offset_s) // 86400
            if self._state.steps_day != local_day:  # local midnight: a new day's count
                self._state.steps_day = local_day
                self._state.steps_today = 0
            self._state.steps_today += int(day.steps[s])
            worn = bool(day.worn[s])
            if t % self.hr_interval_s == 0 and worn:
                bpm = round(float(day.hr_bpm[max(s - self.hr_interval_s + 1, 0) : s + 1].mean()))
                rr = day.rr_intervals_ms(s - self.hr_interval_s, s)
                rr_1024 = tuple(round(x * 1.024) for x in rr[:30])
                self._state.last_hr = bpm
                self._append(
                    g.RecordType.HEART_RATE,
                    t,
                    g.HeartRateMeasurement(bpm=bpm, rr_1024=rr_1024, contact=True),
                )
            if s % 60 == 59:
                self._append(g.RecordType.EPOCH, t - 59, self._epoch(day, s - 59))
            if s % 900 == 0:
                self._state.battery = max(self._state.battery - 0.15, 1.0)
                self._append(g.RecordType.BATTERY, t, self._battery_level)
            if day.plan.fall_at_s is not None and s == day.plan.fall_at_s:
                self._append(g.RecordType.FALL, t, self._fall_window())
                self._event("impact", "fall detected by band")

    def _epoch(self, day: SimulatedDay, s0: int) -> g.Epoch:
        minute = s0 // 60
        worn = bool(day.worn[s0 : s0 + 60].mean() > 0.5)
        hr = day.hr_bpm[s0 : s0 + 60]
        return g.Epoch(
            steps=day.steps_between(s0, s0 + 60),
            activity_count=int(min(day.activity_count[minute], 65535)),
            enmo_mg=int(day.enmo_mg[minute]),
            hr_mean=round(float(hr.mean())) if worn else None,
            worn=worn,
        )

    def _fall_window(self) -> g.FallWindow:
        ax, ay, az, pre = fall_window(self._rng, _FALL_FS_HZ)
        return g.FallWindow(_FALL_FS_HZ, pre, _mg(ax), _mg(ay), _mg(az))

    def _append(self, rtype: g.RecordType, t: int, body: g.RecordBody) -> None:
        rec = self.log.append(rtype, t, body)
        self._produced[rtype] = self._produced.get(rtype, 0) + 1
        conn = self._state.connection
        if rtype in (g.RecordType.FALL, g.RecordType.BUTTON) and conn is not None:
            # urgent records go out at once on their own characteristic, between the pages
            # of any backlog transfer, and stay in the log for the normal sync
            self._spawn(self._notify_urgent(conn, self._frame(rec)))
            self._spawn(self._notify_status(conn))

    async def _notify_stream(self, conn: Connection, char: Characteristic, data: bytes) -> None:
        """A byte stream of frames as notifications of at most MTU - 3 bytes, in order."""
        chunk = max(conn.att_mtu - 3, 20)
        for i in range(0, len(data), chunk):
            await self.device.notify_subscriber(conn, char, data[i : i + chunk])

    async def _notify_urgent(self, conn: Connection, frame: bytes) -> None:
        try:
            await self._notify_stream(conn, self._chars.urgent, frame)
        except Exception as exc:
            log.debug("%s: urgent notify failed: %s", self.config.serial, exc)

    async def _stream_raw(self, fs_hz: int) -> None:
        """Raw accelerometer samples at ``fs_hz`` in real time, in notification-sized
        chunks: gravity on z, sensor noise, and a step rhythm while the wearer walks."""
        n = max(1, min(g.RawAccelChunk.MAX_SAMPLES, fs_hz // 4))
        sent = 0
        while (conn := self._state.connection) is not None:
            t = np.arange(sent, sent + n) / fs_hz
            day = self._days.get(self._band_date(self.clock.now()))
            second = int(self.clock.now()) - day.midnight if day else 0
            walking = bool(day and 0 <= second < day.steps.size and day.steps[second] > 0)
            swing = 0.35 * np.sin(2 * np.pi * 1.8 * t) if walking else 0.0
            noise = self._rng.normal(0.0, 0.01, (3, n))
            ax, ay, az = noise[0] + swing, noise[1], noise[2] + 1.0
            chunk = g.RawAccelChunk(sent, fs_hz, _mg(ax), _mg(ay), _mg(az))
            try:
                await self.device.notify_subscriber(conn, self._chars.raw_accel, chunk.encode())
            except Exception as exc:
                log.debug("%s: raw notify failed: %s", self.config.serial, exc)
            sent += n
            await asyncio.sleep(n / fs_hz)

    async def _notify_status(self, conn: Connection) -> None:
        try:
            await self.device.notify_subscriber(
                conn, self._chars.log_status, g.encode_log_status(self.log.status)
            )
        except Exception as exc:
            log.debug("%s: status notify failed: %s", self.config.serial, exc)

    def inject_fall(self) -> None:
        """The wearer falls now (demos and benchmarks): a FALL record at the band's clock."""
        self._append(g.RecordType.FALL, int(self.clock.now()), self._fall_window())
        self._event("impact", "fall detected by band")

    @property
    def _battery_level(self) -> int:
        return math.ceil(self._state.battery)

    def _steps_now(self) -> int:
        return self._state.steps_today

    async def _ensure_day(self, date: dt.date) -> None:
        if date in self._days:
            return
        fall_s = None
        if self.config.fall_at is not None and self.config.fall_at.date() == date:
            fa = self.config.fall_at
            fall_s = fa.hour * 3600 + fa.minute * 60 + fa.second
        plan = DayPlan(date, self.config.seed, self.config.resting_hr, fall_s)
        self._days[date] = await asyncio.to_thread(simulate_day, plan)

    @staticmethod
    def _band_date(t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, dt.UTC).date()

    # --- live notifications ------------------------------------------------------------
    def _ring_alarms(self) -> None:
        """Vibrate at an alarm's time, once per band minute (band clock, UTC)."""
        now = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        minute = int(self.clock.now()) // 60
        if minute == self._alarm_minute:
            return
        self._alarm_minute = minute
        for a in self.alarms.values():
            if a.hour == now.hour and a.minute == now.minute and a.weekdays >> now.weekday() & 1:
                self._event("vibrate", f"alarm {a.slot}")

    async def _run_live(self) -> None:
        last_status = None
        last_battery = None
        while True:
            self._ring_alarms()
            conn = self._state.connection
            if conn is not None and self._state.last_hr:
                try:
                    hr = g.HeartRateMeasurement(bpm=self._state.last_hr, contact=True)
                    await self.device.notify_subscriber(
                        conn, self._chars.hr, g.encode_heart_rate(hr)
                    )
                    await self.device.notify_subscriber(
                        conn, self._chars.steps, g.encode_steps(self._steps_now())
                    )
                    status = self.log.status
                    if status != last_status:
                        await self.device.notify_subscriber(
                            conn, self._chars.log_status, g.encode_log_status(status)
                        )
                        last_status = status
                    if self._battery_level != last_battery:
                        await self.device.notify_subscriber(
                            conn, self._chars.battery, bytes([self._battery_level])
                        )
                        last_battery = self._battery_level
                except Exception as exc:  # link dropped between the check and the send
                    log.debug("%s: live notify failed: %s", self.config.serial, exc)
            else:
                last_status = last_battery = None
            await asyncio.sleep(_LIVE_PERIOD_S / 4 if self.config.speed > 1 else _LIVE_PERIOD_S)

    def _spawn(self, coro) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _event(self, kind: str, detail: str = "") -> None:
        ev = BandEvent(self.clock.now(), kind, detail)
        self._state.events.append(ev)
        log.info("band %s: %s %s", self.config.serial, kind, detail)
        for cb in self._listeners:
            cb(ev)
