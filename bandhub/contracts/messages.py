"""MQTT message schema shared by the gateway (producer) and ingest (consumer).

See docs/mqtt.md. A record is unique by (band_id, stream, seq); publishing the same
record twice is harmless because ingest writes are idempotent on that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
BAND_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_SEQ = 2**32 - 1

BandId = Annotated[str, Field(pattern=BAND_ID_PATTERN)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
UnixTime = Annotated[float, Field(ge=946_684_800, le=4_102_444_800)]  # 2000..2100


class Stream(StrEnum):
    HR = "hr"
    EPOCH = "epoch"
    FALL = "fall"
    BUTTON = "button"
    BATTERY = "battery"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HrRecord(_Strict):
    seq: Seq
    t: UnixTime
    bpm: Annotated[int, Field(ge=20, le=250)]
    rr_ms: list[Annotated[float, Field(gt=200, lt=3000)]] = Field(default_factory=list)
    contact: bool | None = None


class EpochRecord(_Strict):
    seq: Seq
    t: UnixTime  # start of the minute
    steps: Annotated[int, Field(ge=0, le=400)]
    activity_count: Annotated[int, Field(ge=0, le=65535)]
    enmo_mg: Annotated[int, Field(ge=0, le=16000)]
    hr_mean: Annotated[int, Field(ge=20, le=250)] | None = None
    worn: bool = True


class FallRecord(_Strict):
    seq: Seq
    t: UnixTime  # time of the impact
    fs_hz: Annotated[int, Field(ge=10, le=1000)]
    pre_samples: Annotated[int, Field(ge=0)]
    ax_g: list[float]
    ay_g: list[float]
    az_g: list[float]

    @model_validator(mode="after")
    def _same_lengths(self) -> FallRecord:
        n = len(self.ax_g)
        if n == 0 or len(self.ay_g) != n or len(self.az_g) != n:
            raise ValueError("ax_g, ay_g, az_g must be non-empty and of equal length")
        if self.pre_samples > n:
            raise ValueError("pre_samples exceeds the window length")
        return self


class ButtonRecord(_Strict):
    seq: Seq
    t: UnixTime
    press: Literal["im_ok", "help"]


class BatteryRecord(_Strict):
    seq: Seq
    t: UnixTime
    level: Annotated[int, Field(ge=0, le=100)]


RECORD_MODELS: dict[Stream, type[_Strict]] = {
    Stream.HR: HrRecord,
    Stream.EPOCH: EpochRecord,
    Stream.FALL: FallRecord,
    Stream.BUTTON: ButtonRecord,
    Stream.BATTERY: BatteryRecord,
}


class RecordBatch(_Strict):
    """Payload of ``{prefix}/band/{band_id}/rec/{stream}``: records of one stream, seq ascending.

    ``records`` is kept as raw dicts here so that ingest can validate each record on
    its own and dead-letter only the bad ones (use ``parse_records``).
    """

    v: Literal[1]
    band_id: BandId
    gateway_id: BandId
    stream: Stream
    received_at: UnixTime  # gateway clock when the records arrived over BLE
    clock_offset_s: float = 0.0  # band clock minus gateway clock, measured at sync
    records: list[dict] = Field(min_length=1, max_length=10_000)


class CommandRequest(_Strict):
    """Payload of ``{prefix}/band/{band_id}/cmd`` (server/app -> gateway)."""

    v: Literal[1]
    id: Annotated[str, Field(min_length=1, max_length=64)]
    cmd: Literal[
        "find_band", "vibrate", "message", "call", "fall_countdown", "fall_cancel",
        "set_hr_interval", "reboot", "set_profile", "set_alarm", "raw_stream", "set_time_zone",
    ]  # fmt: skip
    args: dict = Field(default_factory=dict)
    ttl_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 300.0
    issued_at: UnixTime | None = None


class CommandResult(_Strict):
    """Payload of ``{prefix}/band/{band_id}/cmd/result`` (gateway -> server/app)."""

    v: Literal[1]
    id: str
    band_id: BandId
    status: Literal["ok", "failed", "unsupported", "expired", "invalid"]
    detail: str = ""


class GeoLocation(_Strict):
    """Where the gateway is (a home PC's fixed address, or a phone's last fix)."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(ge=0)] | None = None


class GatewayStatus(_Strict):
    """Retained payload of ``{prefix}/gw/{gateway_id}/status``; the last will says offline."""

    v: Literal[1]
    gateway_id: str
    state: Literal["online", "offline"]
    bands: list[str] = Field(default_factory=list)
    since: UnixTime | None = None
    location: GeoLocation | None = None


class GatewayBindings(_Strict):
    """Retained payload of ``{prefix}/gw/{gateway_id}/bands``, published by bandhub: the
    bands this gateway may publish for. A gateway with credentials syncs only these, so a
    band the broker would refuse keeps its records instead of losing them."""

    v: Literal[1]
    gateway_id: str
    bands: list[BandId] = Field(default_factory=list)
    at: UnixTime


class LinkEvent(_Strict):
    at: UnixTime
    event: Literal["connected", "disconnected", "failed"]
    detail: str = ""


class BandStatus(_Strict):
    """Retained payload of ``{prefix}/band/{band_id}/status``: the gateway's view of one
    band, for remote support. Published on every change and every 30 s while connected."""

    v: Literal[1]
    band_id: str
    gateway_id: str
    connected: bool
    at: UnixTime
    address: str = ""
    rssi_dbm: int | None = None
    firmware: str = ""
    battery_percent: int | None = None
    clock_offset_s: float | None = None  # band clock minus gateway clock, at the last sync
    next_seq: int = 0  # the sync cursor: next record the gateway will fetch
    backlog: int = 0  # records on the band not yet fetched
    records_spooled: int = 0  # this connection
    rejected: int = 0  # malformed notifications, this connection
    reconnects: int = 0  # since the gateway started
    last_error: str = ""
    history: list[LinkEvent] = Field(default_factory=list, max_length=50)


class RejectedData(_Strict):
    """Payload of ``{prefix}/band/{band_id}/rejected``: BLE data the gateway could not
    decode, kept for inspection (``band_id`` is null before the band said who it is)."""

    v: Literal[1]
    band_id: str | None
    reason: str
    raw_hex: str
    at: UnixTime


class LiveHeartRate(_Strict):
    """Payload of ``{prefix}/band/{band_id}/live/hr`` (QoS 0, not stored): the Heart Rate
    Measurement as the band sent it (its full uint16 range; 0 without skin contact)."""

    v: Literal[1]
    band_id: BandId
    bpm: Annotated[int, Field(ge=0, le=65535)]
    contact: bool | None = None
    at: UnixTime


class LiveRawAccel(_Strict):
    """Payload of ``{prefix}/band/{band_id}/live/raw`` (QoS 0, not stored): one chunk of
    raw samples in g; ``first_sample`` counts from when streaming was switched on, so a
    lost chunk shows as a jump."""

    v: Literal[1]
    band_id: BandId
    fs_hz: Annotated[int, Field(gt=0, le=1000)]
    first_sample: Annotated[int, Field(ge=0)]
    received_at: UnixTime
    ax_g: list[float]
    ay_g: list[float]
    az_g: list[float]

    @model_validator(mode="after")
    def _same_lengths(self) -> LiveRawAccel:
        if not len(self.ax_g) == len(self.ay_g) == len(self.az_g):
            raise ValueError("ax_g, ay_g and az_g must have the same length")
        return self


class TopicKind(StrEnum):
    RECORDS = "records"
    REJECTED = "rejected"
    LIVE_HR = "live_hr"
    LIVE_RAW = "live_raw"
    COMMAND = "command"
    COMMAND_RESULT = "command_result"
    BAND_STATUS = "band_status"
    GATEWAY_STATUS = "gateway_status"
    GATEWAY_BINDINGS = "gateway_bindings"


@dataclass(frozen=True)
class TopicRef:
    """What a topic under the prefix names: its kind, and the band or gateway it is of."""

    kind: TopicKind
    band_id: str | None = None
    gateway_id: str | None = None
    stream: str | None = None  # records topics only


# the topic shapes under the prefix, split at "/": a "{}" part is the band or gateway id
_SHAPES: dict[tuple[str, ...], TopicKind] = {
    ("band", "{}", "rec", "{stream}"): TopicKind.RECORDS,
    ("band", "{}", "rejected"): TopicKind.REJECTED,
    ("band", "{}", "live", "hr"): TopicKind.LIVE_HR,
    ("band", "{}", "live", "raw"): TopicKind.LIVE_RAW,
    ("band", "{}", "cmd"): TopicKind.COMMAND,
    ("band", "{}", "cmd", "result"): TopicKind.COMMAND_RESULT,
    ("band", "{}", "status"): TopicKind.BAND_STATUS,
    ("gw", "{}", "status"): TopicKind.GATEWAY_STATUS,
    ("gw", "{}", "bands"): TopicKind.GATEWAY_BINDINGS,
}


class Topics:
    """Topic names under one prefix, so producers and consumers cannot drift apart."""

    def __init__(self, prefix: str = "bandhub/v1") -> None:
        self.prefix = prefix.rstrip("/")

    def records(self, band_id: str, stream: Stream | str) -> str:
        return f"{self.prefix}/band/{band_id}/rec/{Stream(stream).value}"

    def records_filter(self) -> str:
        return f"{self.prefix}/band/+/rec/+"

    def command(self, band_id: str) -> str:
        return f"{self.prefix}/band/{band_id}/cmd"

    def commands_filter(self) -> str:
        return f"{self.prefix}/band/+/cmd"

    def command_result(self, band_id: str) -> str:
        return f"{self.prefix}/band/{band_id}/cmd/result"

    def command_results_filter(self) -> str:
        return f"{self.prefix}/band/+/cmd/result"

    def rejected(self, band_id: str) -> str:
        """Malformed BLE data the gateway could not decode, kept for inspection."""
        return f"{self.prefix}/band/{band_id}/rejected"

    def live_hr(self, band_id: str) -> str:
        """Live heart rate (QoS 0, not stored): ahead of any backlog, for the app's display."""
        return f"{self.prefix}/band/{band_id}/live/hr"

    def raw_accel(self, band_id: str) -> str:
        """Raw accelerometer chunks while streaming is on (QoS 0, not stored)."""
        return f"{self.prefix}/band/{band_id}/live/raw"

    def band_status(self, band_id: str) -> str:
        return f"{self.prefix}/band/{band_id}/status"

    def band_status_filter(self) -> str:
        return f"{self.prefix}/band/+/status"

    def gateway_status(self, gateway_id: str) -> str:
        return f"{self.prefix}/gw/{gateway_id}/status"

    def gateway_status_filter(self) -> str:
        return f"{self.prefix}/gw/+/status"

    def gateway_bindings(self, gateway_id: str) -> str:
        """Retained, from bandhub: the bands this gateway may publish for (docs/mqtt.md)."""
        return f"{self.prefix}/gw/{gateway_id}/bands"

    def parse(self, topic: str) -> TopicRef:
        """Classify any topic of the contract; ValueError for one outside it."""
        head = self.prefix + "/"
        parts = tuple(topic[len(head) :].split("/")) if topic.startswith(head) else ()
        for shape, kind in _SHAPES.items():
            if len(shape) != len(parts) or any(
                want != got for want, got in zip(shape, parts, strict=True) if "{" not in want
            ):
                continue
            owner, last = parts[1], parts[-1]
            if not owner or (kind == TopicKind.RECORDS and not last):
                break
            if kind in (TopicKind.GATEWAY_STATUS, TopicKind.GATEWAY_BINDINGS):
                return TopicRef(kind, gateway_id=owner)
            return TopicRef(kind, band_id=owner, stream=last if kind == TopicKind.RECORDS else None)
        raise ValueError(f"not a bandhub topic under {self.prefix!r}: {topic!r}")

    def parse_records_topic(self, topic: str) -> tuple[str, str]:
        """Return (band_id, stream) of a records topic; ValueError if it is not one."""
        try:
            ref = self.parse(topic)
        except ValueError:
            ref = None
        if ref is None or ref.kind != TopicKind.RECORDS:
            raise ValueError(f"not a records topic: {topic!r}")
        return ref.band_id, ref.stream
