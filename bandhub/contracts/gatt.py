"""GATT profile of a bandhub band: UUIDs and byte codecs (see docs/gatt.md).

Standard services use the Bluetooth SIG encodings; the vendor service carries the
record log, steps and the command control point. Every decoder raises
``DecodeError`` (a ``ValueError``) with a reason on malformed input and nothing else.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from enum import IntEnum


class DecodeError(ValueError):
    """Bytes that do not follow the profile; the message says what is wrong.

    ``raw`` holds the offending bytes when known, so a rejection can be inspected.
    """

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.raw = raw


def sig_uuid(short: int) -> str:
    """Expand a 16-bit SIG UUID to its 128-bit string form (lower case, as bleak reports)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


# --- standard services and characteristics -------------------------------------------
HEART_RATE_SERVICE = sig_uuid(0x180D)
HEART_RATE_MEASUREMENT = sig_uuid(0x2A37)
BODY_SENSOR_LOCATION = sig_uuid(0x2A38)
BATTERY_SERVICE = sig_uuid(0x180F)
BATTERY_LEVEL = sig_uuid(0x2A19)
DEVICE_INFORMATION_SERVICE = sig_uuid(0x180A)
MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
FIRMWARE_REVISION = sig_uuid(0x2A26)
CURRENT_TIME_SERVICE = sig_uuid(0x1805)
CURRENT_TIME = sig_uuid(0x2A2B)
LOCAL_TIME_INFORMATION = sig_uuid(0x2A0F)
IMMEDIATE_ALERT_SERVICE = sig_uuid(0x1802)
ALERT_LEVEL = sig_uuid(0x2A06)
ALERT_NOTIFICATION_SERVICE = sig_uuid(0x1811)
NEW_ALERT = sig_uuid(0x2A46)
SUPPORTED_NEW_ALERT_CATEGORY = sig_uuid(0x2A47)

# --- vendor service ---------------------------------------------------------------------
_VENDOR_BASE = "6b1d{:04x}-7a3c-4f0e-9a51-0c2b6e8d4f10"
VENDOR_SERVICE = _VENDOR_BASE.format(0x0001)
STEPS = _VENDOR_BASE.format(0x0002)  # read/notify: u32 steps since the band's local midnight
LOG_STATUS = _VENDOR_BASE.format(0x0003)  # read/notify: u32 first_seq, u32 next_seq
LOG_DATA = _VENDOR_BASE.format(0x0004)  # notify: record-frame byte stream
LOG_CONTROL = _VENDOR_BASE.format(0x0005)  # write/indicate: record log procedure
CONTROL_POINT = _VENDOR_BASE.format(0x0006)  # write/indicate: commands
URGENT_RECORDS = _VENDOR_BASE.format(0x0007)  # notify: FALL/BUTTON record frames, as made
RAW_ACCEL = _VENDOR_BASE.format(0x0008)  # notify: raw accelerometer chunks while streaming


# --- Heart Rate Measurement (0x2A37) ----------------------------------------------------
_HR_FLAG_UINT16 = 0x01
_HR_FLAG_CONTACT_DETECTED = 0x02
_HR_FLAG_CONTACT_SUPPORTED = 0x04
_HR_FLAG_ENERGY = 0x08
_HR_FLAG_RR = 0x10


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One Heart Rate Measurement; RR intervals in 1/1024 s units as on the wire."""

    bpm: int
    rr_1024: tuple[int, ...] = ()
    contact: bool | None = None  # None: the sensor does not report contact
    energy_kj: int | None = None

    @property
    def rr_ms(self) -> list[float]:
        return [r * 1000.0 / 1024.0 for r in self.rr_1024]


def encode_heart_rate(m: HeartRateMeasurement) -> bytes:
    """Encode as the band does: 8-bit value when it fits, contact and RR when present."""
    if not 0 <= m.bpm <= 0xFFFF:
        raise ValueError(f"bpm {m.bpm} does not fit in 16 bits")
    flags = 0
    body = bytearray()
    if m.bpm > 0xFF:
        flags |= _HR_FLAG_UINT16
        body += struct.pack("<H", m.bpm)
    else:
        body.append(m.bpm)
    if m.contact is not None:
        flags |= _HR_FLAG_CONTACT_SUPPORTED | (_HR_FLAG_CONTACT_DETECTED if m.contact else 0)
    if m.energy_kj is not None:
        flags |= _HR_FLAG_ENERGY
        body += struct.pack("<H", m.energy_kj)
    if m.rr_1024:
        flags |= _HR_FLAG_RR
        for rr in m.rr_1024:
            body += struct.pack("<H", rr)
    return bytes([flags]) + bytes(body)


def decode_heart_rate(data: bytes) -> HeartRateMeasurement:
    """Decode any valid Heart Rate Measurement, from this band or a third-party strap."""
    if len(data) < 2:
        raise DecodeError(f"heart rate measurement needs at least 2 bytes, got {len(data)}")
    flags = data[0]
    pos = 1
    if flags & _HR_FLAG_UINT16:
        if len(data) < 3:
            raise DecodeError("heart rate flagged 16-bit but only 1 value byte present")
        bpm = struct.unpack_from("<H", data, pos)[0]
        pos += 2
    else:
        bpm = data[pos]
        pos += 1
    contact: bool | None = None
    if flags & _HR_FLAG_CONTACT_SUPPORTED:
        contact = bool(flags & _HR_FLAG_CONTACT_DETECTED)
    energy = None
    if flags & _HR_FLAG_ENERGY:
        if len(data) < pos + 2:
            raise DecodeError("heart rate flagged energy expended but field is truncated")
        energy = struct.unpack_from("<H", data, pos)[0]
        pos += 2
    rr: tuple[int, ...] = ()
    if flags & _HR_FLAG_RR:
        rest = len(data) - pos
        if rest % 2:
            raise DecodeError(f"RR interval field has odd length {rest}")
        rr = struct.unpack_from(f"<{rest // 2}H", data, pos)
        pos = len(data)
    elif pos != len(data):
        raise DecodeError(f"{len(data) - pos} unexpected trailing bytes in heart rate measurement")
    return HeartRateMeasurement(bpm=bpm, rr_1024=tuple(rr), contact=contact, energy_kj=energy)


# --- Current Time (0x2A2B, Exact Time 256 + adjust reason) ------------------------------
def encode_current_time(when: dt.datetime, adjust_reason: int = 0x01) -> bytes:
    """Encode a UTC datetime as Current Time; bands keep UTC (time zone is the app's job)."""
    when = when.astimezone(dt.UTC)
    frac256 = int(when.microsecond * 256 / 1_000_000)
    return struct.pack(
        "<HBBBBBBBB",
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        when.isoweekday(),
        frac256,
        adjust_reason,
    )


def decode_current_time(data: bytes) -> dt.datetime:
    if len(data) != 10:
        raise DecodeError(f"current time must be 10 bytes, got {len(data)}")
    year, month, day, hour, minute, second, _dow, frac, _reason = struct.unpack("<HBBBBBBBB", data)
    try:
        return dt.datetime(
            year, month, day, hour, minute, second, int(frac * 1_000_000 / 256), tzinfo=dt.UTC
        )
    except ValueError as exc:
        raise DecodeError(f"current time is not a valid date: {exc}") from None


# --- Local Time Information (0x2A0F): the wearer's offset from UTC -----------------------
_DST_CODES = {0: 0, 1800: 2, 3600: 4, 7200: 8}  # DST offset (s) -> its code


def encode_local_time_information(utc_offset_s: int, dst_s: int = 0) -> bytes:
    """Time Zone (sint8: the standard offset in 15-minute units, -48..56) and DST Offset
    (u8: 0, 2 = +0.5 h, 4 = +1 h, 8 = +2 h): where the band's local midnight is."""
    std = utc_offset_s - dst_s
    if std % 900 or dst_s not in _DST_CODES or not -48 <= std // 900 <= 56:
        raise DecodeError(f"no Local Time Information for offset {utc_offset_s} s, DST {dst_s} s")
    return struct.pack("<bB", std // 900, _DST_CODES[dst_s])


def decode_local_time_information(data: bytes) -> int:
    """The total offset from UTC in seconds (standard offset plus DST)."""
    if len(data) != 2:
        raise DecodeError(f"local time information must be 2 bytes, got {len(data)}")
    zone, dst = struct.unpack("<bB", data)
    dst_s = {code: s for s, code in _DST_CODES.items()}.get(dst)
    if not -48 <= zone <= 56 or dst_s is None:
        raise DecodeError(f"local time information out of range: zone {zone}, DST {dst}")
    return zone * 900 + dst_s


# --- Battery, steps, log status ---------------------------------------------------------
def decode_battery_level(data: bytes) -> int:
    if len(data) != 1:
        raise DecodeError(f"battery level must be 1 byte, got {len(data)}")
    if data[0] > 100:
        raise DecodeError(f"battery level {data[0]} is above 100 %")
    return data[0]


def encode_steps(steps: int) -> bytes:
    return struct.pack("<I", steps)


def decode_steps(data: bytes) -> int:
    if len(data) != 4:
        raise DecodeError(f"steps must be 4 bytes, got {len(data)}")
    return struct.unpack("<I", data)[0]


@dataclass(frozen=True, slots=True)
class LogStatus:
    """Records ``first_seq`` .. ``next_seq - 1`` are held by the band."""

    first_seq: int
    next_seq: int


def encode_log_status(s: LogStatus) -> bytes:
    return struct.pack("<II", s.first_seq, s.next_seq)


def decode_log_status(data: bytes) -> LogStatus:
    if len(data) != 8:
        raise DecodeError(f"log status must be 8 bytes, got {len(data)}")
    first, nxt = struct.unpack("<II", data)
    if first > nxt:
        raise DecodeError(f"log status first_seq {first} is after next_seq {nxt}")
    return LogStatus(first, nxt)


# --- record log frames ------------------------------------------------------------------
class RecordType(IntEnum):
    HEART_RATE = 0x01  # payload: a Heart Rate Measurement value (0x2A37 encoding)
    EPOCH = 0x02  # payload: per-minute activity epoch
    FALL = 0x03  # payload: impact event with raw accelerometer window
    BUTTON = 0x04  # payload: u8 press kind
    BATTERY = 0x05  # payload: u8 level %


class ButtonPress(IntEnum):
    IM_OK = 0x01  # "I'm OK": cancels a pending fall alert
    HELP = 0x02  # long press: the wearer asks for help


_FRAME_HEADER = struct.Struct("<HIBI")  # payload length, seq, type, band time (unix s)
FRAME_HEADER_SIZE = _FRAME_HEADER.size
_EPOCH = struct.Struct("<HHHBB")  # steps, activity count, enmo mg, mean bpm (0 = none), flags
_FALL_HEADER = struct.Struct("<BHH")  # sample rate Hz, samples before impact, sample count
EPOCH_FLAG_WORN = 0x01


@dataclass(frozen=True, slots=True)
class Epoch:
    steps: int
    activity_count: int
    enmo_mg: int
    hr_mean: int | None
    worn: bool


@dataclass(frozen=True, slots=True)
class FallWindow:
    """Raw 3-axis acceleration around an impact, in milli-g, ``pre_samples`` before it."""

    fs_hz: int
    pre_samples: int
    ax_mg: tuple[int, ...]
    ay_mg: tuple[int, ...]
    az_mg: tuple[int, ...]


RecordBody = HeartRateMeasurement | Epoch | FallWindow | ButtonPress | int


@dataclass(frozen=True, slots=True)
class Record:
    """One entry of a band's record log; ``seq`` only goes up, per band."""

    seq: int
    type: RecordType
    t: int  # band clock, unix seconds UTC
    body: RecordBody = field(compare=True)


def encode_record(rec: Record) -> bytes:
    payload = _encode_body(rec.type, rec.body)
    return _FRAME_HEADER.pack(len(payload), rec.seq, rec.type, rec.t) + payload


def _encode_body(rtype: RecordType, body: RecordBody) -> bytes:
    match rtype:
        case RecordType.HEART_RATE:
            assert isinstance(body, HeartRateMeasurement)
            return encode_heart_rate(body)
        case RecordType.EPOCH:
            assert isinstance(body, Epoch)
            return _EPOCH.pack(
                body.steps,
                body.activity_count,
                body.enmo_mg,
                body.hr_mean or 0,
                EPOCH_FLAG_WORN if body.worn else 0,
            )
        case RecordType.FALL:
            assert isinstance(body, FallWindow)
            n = len(body.ax_mg)
            if not (len(body.ay_mg) == len(body.az_mg) == n):
                raise ValueError("fall window axes differ in length")
            interleaved = [
                v for xyz in zip(body.ax_mg, body.ay_mg, body.az_mg, strict=True) for v in xyz
            ]
            return _FALL_HEADER.pack(body.fs_hz, body.pre_samples, n) + struct.pack(
                f"<{3 * n}h", *interleaved
            )
        case RecordType.BUTTON:
            return bytes([int(body)])
        case RecordType.BATTERY:
            return bytes([int(body)])
    raise ValueError(f"unknown record type {rtype!r}")


def _decode_body(rtype: int, payload: bytes) -> RecordBody:
    match rtype:
        case RecordType.HEART_RATE:
            return decode_heart_rate(payload)
        case RecordType.EPOCH:
            if len(payload) != _EPOCH.size:
                raise DecodeError(f"epoch payload must be {_EPOCH.size} bytes, got {len(payload)}")
            steps, activity, enmo, hr, flags = _EPOCH.unpack(payload)
            return Epoch(steps, activity, enmo, hr or None, bool(flags & EPOCH_FLAG_WORN))
        case RecordType.FALL:
            if len(payload) < _FALL_HEADER.size:
                raise DecodeError("fall payload shorter than its header")
            fs, pre, n = _FALL_HEADER.unpack_from(payload)
            if len(payload) != _FALL_HEADER.size + 6 * n:
                raise DecodeError(
                    f"fall payload announces {n} samples but holds "
                    f"{len(payload) - _FALL_HEADER.size} bytes"
                )
            if fs == 0 or pre > n:
                raise DecodeError(f"fall window has rate {fs} Hz and {pre} of {n} pre-samples")
            vals = struct.unpack_from(f"<{3 * n}h", payload, _FALL_HEADER.size)
            return FallWindow(fs, pre, vals[0::3], vals[1::3], vals[2::3])
        case RecordType.BUTTON:
            if len(payload) != 1:
                raise DecodeError(f"button payload must be 1 byte, got {len(payload)}")
            try:
                return ButtonPress(payload[0])
            except ValueError:
                raise DecodeError(f"unknown button press kind {payload[0]}") from None
        case RecordType.BATTERY:
            if len(payload) != 1:
                raise DecodeError(f"battery payload must be 1 byte, got {len(payload)}")
            return decode_battery_level(payload)
    raise DecodeError(f"unknown record type 0x{rtype:02x}")


class FrameDecoder:
    """Reassembles records from LOG_DATA notifications, which may split frames anywhere.

    Frames are delivered in order on one link; ``reset()`` drops a partial frame
    after a disconnect so the next transfer starts clean.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Record | DecodeError]:
        """Return the complete records in ``chunk`` (a DecodeError for each bad one)."""
        self._buf += chunk
        out: list[Record | DecodeError] = []
        while len(self._buf) >= FRAME_HEADER_SIZE:
            length, seq, rtype, t = _FRAME_HEADER.unpack_from(self._buf)
            end = FRAME_HEADER_SIZE + length
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[FRAME_HEADER_SIZE:end])
            del self._buf[:end]
            try:
                body = _decode_body(rtype, payload)
                out.append(Record(seq, RecordType(rtype), t, body))
            except DecodeError as exc:
                header = _FRAME_HEADER.pack(length, seq, rtype, t)
                out.append(DecodeError(f"record seq {seq}: {exc}", raw=header + payload))
        return out


def decode_records(data: bytes) -> list[Record]:
    """Decode a complete byte string of frames; raises on any bad or partial frame."""
    dec = FrameDecoder()
    out: list[Record] = []
    for item in dec.feed(data):
        if isinstance(item, DecodeError):
            raise item
        out.append(item)
    if dec.pending_bytes:
        raise DecodeError(f"{dec.pending_bytes} bytes of a truncated frame at the end")
    return out


# --- record log control point (RACP-like) -----------------------------------------------
class LogOp(IntEnum):
    REPORT_FROM = 0x01  # u32 from_seq, u16 max_count -> frames on LOG_DATA, then a response
    DELETE_THROUGH = 0x02  # u32 seq: the band may forget records <= seq
    RESPONSE = 0x80  # u8 request op, u8 status, u32 last_seq_sent, u16 count


class LogStatusCode(IntEnum):
    SUCCESS = 0x00
    NO_RECORDS = 0x01
    INVALID_OPERAND = 0x02
    UNSUPPORTED_OP = 0x03
    BUSY = 0x04


@dataclass(frozen=True, slots=True)
class LogResponse:
    request: int
    status: LogStatusCode
    last_seq: int
    count: int


def encode_report_from(from_seq: int, max_count: int) -> bytes:
    return struct.pack("<BIH", LogOp.REPORT_FROM, from_seq, max_count)


def encode_delete_through(seq: int) -> bytes:
    return struct.pack("<BI", LogOp.DELETE_THROUGH, seq)


def encode_log_response(r: LogResponse) -> bytes:
    return struct.pack("<BBBIH", LogOp.RESPONSE, r.request, r.status, r.last_seq, r.count)


def decode_log_response(data: bytes) -> LogResponse:
    if len(data) != 9 or data[0] != LogOp.RESPONSE:
        raise DecodeError(f"not a log response: {data.hex()}")
    _, req, status, last, count = struct.unpack("<BBBIH", data)
    try:
        code = LogStatusCode(status)
    except ValueError:
        raise DecodeError(f"unknown log status code {status}") from None
    return LogResponse(req, code, last, count)


# --- command control point --------------------------------------------------------------
class Command(IntEnum):
    FIND_BAND = 0x01  # u8 seconds to vibrate
    VIBRATE = 0x02  # u8 pattern, u8 seconds
    FALL_COUNTDOWN = 0x03  # u16 seconds; the band shows "Are you OK?" and vibrates
    FALL_COUNTDOWN_CANCEL = 0x04  # (no operand) the server closed the countdown
    SET_HR_INTERVAL = 0x05  # u16 seconds between heart-rate records
    REBOOT = 0x06
    SET_PROFILE = 0x07  # u8 age (years), u16 height (cm), u16 weight (0.1 kg)
    SET_ALARM = 0x08  # u8 slot 0-7, u8 hour, u8 minute, u8 weekdays (bit 0 = Monday; 0: off)
    SET_RAW_STREAM = 0x09  # u8 rate Hz: 0 stops, 1-100 streams on Raw Accel
    RESPONSE = 0x80  # u8 command, u8 status


class CommandStatus(IntEnum):
    SUCCESS = 0x00
    UNSUPPORTED = 0x01
    INVALID_OPERAND = 0x02
    FAILED = 0x03


@dataclass(frozen=True)
class Profile:
    age: int
    height_cm: int
    weight_kg: float

    def encode(self) -> bytes:
        return struct.pack("<BHH", self.age, self.height_cm, round(self.weight_kg * 10))

    @classmethod
    def decode(cls, data: bytes) -> Profile:
        if len(data) != 5:
            raise DecodeError(f"profile is 5 bytes, got {len(data)}")
        age, height, weight = struct.unpack("<BHH", data)
        if not (1 <= age <= 120 and 50 <= height <= 250 and 100 <= weight <= 3500):
            raise DecodeError(f"profile out of range: {age} y, {height} cm, {weight / 10} kg")
        return cls(age, height, weight / 10)


@dataclass(frozen=True)
class Alarm:
    slot: int
    hour: int
    minute: int
    weekdays: int  # bit 0 = Monday ... bit 6 = Sunday; 0 switches the slot off

    def encode(self) -> bytes:
        return bytes([self.slot, self.hour, self.minute, self.weekdays])

    @classmethod
    def decode(cls, data: bytes) -> Alarm:
        if len(data) != 4:
            raise DecodeError(f"alarm is 4 bytes, got {len(data)}")
        slot, hour, minute, days = data
        if slot > 7 or hour > 23 or minute > 59 or days > 0x7F:
            raise DecodeError(f"alarm out of range: slot {slot} {hour}:{minute} days {days:#x}")
        return cls(slot, hour, minute, days)


@dataclass(frozen=True)
class RawAccelChunk:
    """One Raw Accel notification: consecutive samples in milli-g. ``first_sample``
    counts samples since streaming started, so a consumer sees gaps."""

    first_sample: int
    fs_hz: int
    ax_mg: tuple[int, ...]
    ay_mg: tuple[int, ...]
    az_mg: tuple[int, ...]

    MAX_SAMPLES = 39  # 5 + 6 * 39 = 239 bytes: fits one notification at MTU 247

    def encode(self) -> bytes:
        n = len(self.ax_mg)
        if not (0 < n <= self.MAX_SAMPLES and len(self.ay_mg) == len(self.az_mg) == n):
            raise ValueError(f"a raw chunk holds 1-{self.MAX_SAMPLES} samples per axis")
        samples = [v for xyz in zip(self.ax_mg, self.ay_mg, self.az_mg, strict=True) for v in xyz]
        return struct.pack(f"<IB{3 * n}h", self.first_sample, self.fs_hz, *samples)

    @classmethod
    def decode(cls, data: bytes) -> RawAccelChunk:
        if len(data) < 11 or (len(data) - 5) % 6:
            raise DecodeError(f"raw accel chunk of {len(data)} bytes is not 5 + 6n (n >= 1)")
        first, fs = struct.unpack_from("<IB", data)
        if not 1 <= fs <= 100:
            raise DecodeError(f"raw accel rate {fs} Hz out of range 1-100")
        v = struct.unpack_from(f"<{(len(data) - 5) // 2}h", data, 5)
        return cls(first, fs, v[0::3], v[1::3], v[2::3])


def encode_command(cmd: Command, operand: bytes = b"") -> bytes:
    return bytes([cmd]) + operand


def decode_command(data: bytes) -> tuple[int, bytes]:
    if not data:
        raise DecodeError("empty command")
    return data[0], bytes(data[1:])


def encode_command_response(cmd: int, status: CommandStatus) -> bytes:
    return bytes([Command.RESPONSE, cmd, status])


def decode_command_response(data: bytes) -> tuple[int, CommandStatus]:
    if len(data) != 3 or data[0] != Command.RESPONSE:
        raise DecodeError(f"not a command response: {data.hex()}")
    try:
        return data[1], CommandStatus(data[2])
    except ValueError:
        raise DecodeError(f"unknown command status {data[2]}") from None


# --- Alert Notification (0x2A46 New Alert) ----------------------------------------------
class AlertCategory(IntEnum):
    SIMPLE = 0
    EMAIL = 1
    NEWS = 2
    CALL = 3
    MISSED_CALL = 4
    SMS = 5
    VOICE_MAIL = 6
    SCHEDULE = 7
    HIGH_PRIORITY = 8
    INSTANT_MESSAGE = 9


def encode_new_alert(category: AlertCategory, count: int, text: str) -> bytes:
    """New Alert: category, count, then at most 18 bytes of UTF-8 text (spec limit)."""
    raw = text.encode("utf-8")[:18]
    raw = raw.decode("utf-8", errors="ignore").encode("utf-8")
    return bytes([category, min(count, 255)]) + raw


def decode_new_alert(data: bytes) -> tuple[AlertCategory, int, str]:
    if len(data) < 2:
        raise DecodeError("new alert needs at least 2 bytes")
    try:
        cat = AlertCategory(data[0])
    except ValueError:
        raise DecodeError(f"unknown alert category {data[0]}") from None
    try:
        text = data[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("new alert text is not UTF-8") from None
    return cat, data[1], text
