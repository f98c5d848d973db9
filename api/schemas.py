"""The API's request and response bodies: what the OpenAPI document (and so the
companion app) is built from. Response models list every field clients see today."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from alerts.store import Outcome
from bandhub.contracts.messages import BAND_ID_PATTERN

_NO_NUL = r"^[^\x00]*$"
_HH_MM = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"


def _wall_clock(value: object) -> object:
    """A time of day as people write it (HH:MM or HH:MM:SS), nothing else: no offset,
    no seconds-since-midnight number."""
    if isinstance(value, str) and not re.fullmatch(_HH_MM, value):
        raise ValueError("a time of day is HH:MM or HH:MM:SS")
    if not isinstance(value, str | dt.time):
        raise ValueError("a time of day is a string HH:MM or HH:MM:SS")
    return value


WallClock = Annotated[
    dt.time,
    BeforeValidator(_wall_clock),
    WithJsonSchema({"type": "string", "pattern": _HH_MM, "examples": ["22:00"]}),
]  # PostgreSQL text cannot hold NUL: refused as bad input, not a 500
# Request numbers are strict: JSON true is not 1, and 1.5 is not an integer.
Int32 = Annotated[int, Field(strict=True, ge=-(2**31), le=2**31 - 1)]


def _iso_date(value: object) -> object:
    """A day as YYYY-MM-DD only (pydantic would also take a number of seconds)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date is YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

# ``GET /alerts`` and the summary's sleep period have always written "+00:00" (the
# other timestamps "Z"): kept so that no client sees a changed value.
OffsetTimestamp = Annotated[
    dt.datetime,
    PlainSerializer(dt.datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: e.g. unknown_band, claimed")
    message: str = Field(description="for people")


class ErrorResponse(BaseModel):
    """Every 4xx body."""

    error: ErrorDetail


# --- bands ---


class BandIn(BaseModel):
    band_id: Annotated[str, Field(pattern=BAND_ID_PATTERN)]
    name: Annotated[str, Field(max_length=200, pattern=_NO_NUL)] = ""


class BandCreated(BaseModel):
    band_id: str
    name: str
    registered_at: dt.datetime


class BandListItem(BandCreated):
    last_seen: dt.datetime | None
    records: int = Field(description="heart-rate, epoch, fall, button and battery records")
    role: Literal["owner", "share", "org_admin", "org_staff", "support"] = Field(
        description="why you see this band"
    )
    scopes: list[str] = Field(description="what you may do with it")
    battery_percent: int | None = Field(
        None, description="the latest battery reading (diagnostics: every viewer holds it)"
    )
    battery_at: dt.datetime | None = None


class ClaimIn(BaseModel):
    name: Annotated[str, Field(max_length=200, pattern=_NO_NUL)] | None = Field(
        None, description="what to call the wearer (kept if omitted)"
    )
    claim_code: Annotated[str, Field(min_length=8, max_length=12, pattern=r"^[ -~]*$")]
    gateway_id: Annotated[str, Field(pattern=BAND_ID_PATTERN)] | None = Field(
        None, description="one of your gateways (POST /gateways): bind the band to it too"
    )


class ClaimResult(BaseModel):
    band_id: str
    name: str
    owner_id: int = Field(description="your account id")
    claimed_at: dt.datetime
    gateway_id: str | None = Field(None, description="the gateway it was bound to, if any")


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") from exc
    return value


TimeZoneName = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$", examples=["Asia/Shanghai"]),
    AfterValidator(_iana_zone),
]


class BandSettingsIn(BaseModel):
    name: Annotated[str, Field(max_length=200, pattern=_NO_NUL)] | None = Field(
        None, description="what to call the wearer (unchanged if omitted)"
    )
    time_zone: TimeZoneName | None = Field(
        None,
        description="the wearer's IANA time zone: quiet hours, waking hours and alarms are"
        " local times in it (unchanged if omitted)",
    )
    fall_countdown_s: Annotated[float, Field(strict=True, ge=0, le=600)] | None = Field(
        None, description="This wearer's fall countdown; null: the server default"
    )
    sedentary_reminder: bool | None = Field(
        None,
        description='the band\'s "move" vibration after BANDHUB_SEDENTARY_MIN minutes'
        " without a step in the wearer's waking hours (unchanged if omitted)",
    )
    height_cm: Annotated[float, Field(strict=True, ge=50, le=250)] | None = Field(
        None, description="profile, for stride and energy (null: unknown)"
    )
    weight_kg: Annotated[float, Field(strict=True, ge=10, le=400)] | None = Field(
        None, description="profile, for energy"
    )
    birth_year: Annotated[int, Field(strict=True, ge=1900, le=2100)] | None = Field(
        None, description="profile, for energy, heart-rate zones and sleep advice"
    )
    sex: Literal["female", "male"] | None = Field(None, description="profile, for energy")
    step_goal: Annotated[int, Field(strict=True, ge=100, le=100_000)] | None = Field(
        None, description="daily steps goal (null: the app's default)"
    )
    sleep_goal_min: Annotated[int, Field(strict=True, ge=60, le=960)] | None = Field(
        None, description="nightly sleep goal, minutes (null: the app's default)"
    )

    @model_validator(mode="after")
    def _born_in_the_past(self) -> BandSettingsIn:
        if self.birth_year is not None and self.birth_year > dt.date.today().year:
            raise ValueError("birth_year is in the future")
        return self


PROFILE_COLUMNS = ("height_cm", "weight_kg", "birth_year", "sex", "step_goal", "sleep_goal_min")


class BandSettings(BaseModel):
    band_id: str
    name: str
    time_zone: str
    fall_countdown_s: float | None
    sedentary_reminder: bool
    height_cm: float | None
    weight_kg: float | None
    birth_year: int | None
    sex: Literal["female", "male"] | None
    step_goal: int | None
    sleep_goal_min: int | None


class BatteryPoint(BaseModel):
    t: dt.datetime = Field(description="start of the hour")
    level: int = Field(description="lowest level in the hour, percent")


class Diagnostics(BaseModel):
    band_id: str
    last_seen: dt.datetime | None
    gateway: str | None
    link: dict[str, Any] | None = Field(description="the gateway's latest link report")
    link_reported_at: dt.datetime | None
    battery_hourly: list[BatteryPoint]


# --- contacts ---


class ContactIn(BaseModel):
    """A webhook contact needs an http(s) URL and a signing secret; e-mail a mailbox."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]
    channel: Literal["webhook", "email"] = "webhook"
    url: HttpUrl | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")] | None = None
    secret: Annotated[str, Field(min_length=16, max_length=200, pattern=_NO_NUL)] | None = None
    position: Int32 = 0
    quiet_start: WallClock | None = Field(
        None, description="the wearer's local time; delays non-fall alerts only"
    )
    quiet_end: WallClock | None = None

    @model_validator(mode="after")
    def _address_fits_channel(self) -> ContactIn:
        if self.channel == "webhook" and (self.url is None or self.secret is None):
            raise ValueError("a webhook contact needs url and secret")
        if self.channel == "email" and self.email is None:
            raise ValueError("an email contact needs email")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end")
        return self

    @property
    def address(self) -> str:
        return str(self.url) if self.channel == "webhook" else str(self.email)


class ContactPatch(BaseModel):
    """What can change on a contact (the channel and address: delete and add again)."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)] | None = None
    position: Int32 | None = None
    quiet_start: WallClock | None = None
    quiet_end: WallClock | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ContactPatch:
        for field in ("name", "position"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        if ("quiet_start" in self.model_fields_set) != ("quiet_end" in self.model_fields_set):
            raise ValueError("quiet hours change together: give quiet_start and quiet_end")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end")
        return self


class ContactPublic(BaseModel):
    """A contact as clients see it: never its signing secret."""

    id: int
    band_id: str
    name: str
    channel: Literal["webhook", "email"]
    address: str = Field(description="the webhook URL or the e-mail address")
    position: int
    quiet_start: WallClock | None
    quiet_end: WallClock | None
    opted_out_at: dt.datetime | None = Field(description="set when the contact opted out")


# --- daily summary and heart-rate series ---


class HeartRate(BaseModel):
    min: int | None
    avg: float | None
    max: int | None
    resting: int | None
    unit: Literal["bpm"] = "bpm"


class SleepSegment(BaseModel):
    start: OffsetTimestamp
    end: OffsetTimestamp
    stage: Literal["wake", "light", "deep", "rem"] = Field(
        description="wake is measured (movement); light/deep/rem are estimates from heart rate"
    )


class SleepRecommendation(BaseModel):
    age_group: Literal["teenager", "adult", "older_adult"] = Field(
        description="from the wearer's birth year; adult when unknown"
    )
    min_h: int
    max_h: int
    source: str


class Sleep(BaseModel):
    minutes: int
    start: OffsetTimestamp | None = Field(description="main sleep period")
    end: OffsetTimestamp | None
    midpoint_local: str | None = Field(
        None, description="middle of the main sleep period, local HH:MM", examples=["03:10"]
    )
    efficiency: float | None
    waso_min: float
    awakenings: int
    stages_estimate_min: dict[str, int] = Field(description="deep/light/rem, from heart rate")
    hypnogram: list[SleepSegment] = Field(
        default_factory=list,
        description="the main sleep period as runs of wake or an estimated stage",
    )
    recommended: SleepRecommendation


class Hrv(BaseModel):
    period: Literal["sleep", "day"] = Field(description="over the night, or the whole day")
    rmssd_ms: float
    sdnn_ms: float
    mean_nn_ms: float
    pnn50_pct: float
    intervals: int
    removed: int = Field(description="artefacts and ectopic beats left out")


class Activity(BaseModel):
    """Derived with the wearer's profile (docs/analytics.md); null when it lacks an input."""

    active_minutes: int = Field(description="worn, at least 100 steps a minute")
    distance_m: int | None = Field(description="steps x stride (from height)")
    stride_m: float | None
    active_kcal: int | None = Field(description="Keytel (heart rate) or ACSM walking, net")
    resting_kcal: int | None = Field(description="Mifflin-St Jeor, for the day so far")
    total_kcal: int | None


class HrZone(BaseModel):
    zone: int = Field(ge=1, le=5)
    low_bpm: int
    high_bpm: int | None
    minutes: int


class HrZones(BaseModel):
    max_bpm: int = Field(description="maximal heart rate, 208 - 0.7 x age (Tanaka)")
    formula: Literal["tanaka"]
    zones: list[HrZone] = Field(description="50/60/70/80/90 % of the maximal heart rate")


class Goals(BaseModel):
    steps: int = Field(description="the wearer's step goal, or 8000")
    steps_met: bool
    sleep_min: int = Field(description="the wearer's sleep goal, or the recommended minimum")
    sleep_met: bool


class DailySummary(BaseModel):
    band_id: str
    date: dt.date = Field(description="the wearer's local day")
    time_zone: str = Field(description="the IANA zone the day began in")
    start: dt.datetime = Field(description="local midnight that began the day")
    end: dt.datetime = Field(description="the next local midnight (end, exclusive)")
    hours: float = Field(
        description="24, or 23/25 on a DST change day, or other on a day the wearer's zone changed"
    )
    steps: int
    heart_rate: HeartRate
    sleep_minutes: int
    sleep: Sleep
    hrv: Hrv | None = Field(description="null with under 60 RR intervals")
    falls: int = Field(description="confirmed falls")
    coverage: float = Field(description="share of the day the band was worn")
    activity: Activity
    hr_zones: HrZones | None = Field(description="null without the wearer's birth year")
    goals: Goals


class TrendDay(BaseModel):
    day: dt.date
    hours: float = Field(description="24, 23 or 25 (DST), other on a change of zone")
    steps: int | None = Field(description="null: no epochs that day")
    active_minutes: int | None = Field(description="worn minutes with at least 100 steps")
    resting_hr_bpm: float | None = Field(description="from the stored daily summary")
    sleep_minutes: int | None = Field(description="the sleep that ended that day")
    sleep_midpoint_local: str | None = Field(description="HH:MM, local")
    hrv_sdnn_ms: float | None


class SleepRegularity(BaseModel):
    midpoint_sd_min: float | None = Field(
        description="standard deviation of the nights' local sleep midpoints (minutes)"
    )
    nights: int


class Trends(BaseModel):
    band_id: str
    time_zone: str = Field(description="the wearer's zone now")
    period: Literal["week", "month", "year"]
    from_: dt.date = Field(alias="from")
    to: dt.date
    days: list[TrendDay]
    sleep_regularity: SleepRegularity

    model_config = ConfigDict(populate_by_name=True)


class Streak(BaseModel):
    current: int = Field(description="days in a row up to today (today once met)")
    best: int = Field(description="the longest run in the last 365 days")


class Streaks(BaseModel):
    band_id: str
    today: dt.date = Field(description="the wearer's local today")
    step_goal: int
    sleep_goal_min: int
    steps: Streak
    sleep: Streak = Field(description="nights not yet summed up end the run for now")


class ChallengeIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=_NO_NUL)]
    with_bands: list[Annotated[str, Field(pattern=BAND_ID_PATTERN)]] = Field(
        max_length=20, description="the other wearers (the band in the path takes part)"
    )
    first_day: IsoDate = Field(description="the wearers' local days, inclusive")
    last_day: IsoDate

    @model_validator(mode="after")
    def _in_order(self) -> ChallengeIn:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self


class ChallengeListItem(BaseModel):
    id: int
    name: str
    first_day: dt.date
    last_day: dt.date


class LeaderboardRow(BaseModel):
    rank: int = Field(description="1 leads; a tie shares its rank")
    band_id: str
    name: str
    steps: int
    days: int = Field(description="days with data in the challenge")


class Challenge(ChallengeListItem):
    leaderboard: list[LeaderboardRow]


class HrPoint(BaseModel):
    t: dt.datetime = Field(description="start of the bucket")
    bpm: float = Field(description="average")
    min: int
    max: int


class HrSeries(BaseModel):
    band_id: str
    resolution: Literal["1m", "5m", "15m", "1h"]
    points: list[HrPoint]


# --- alerts ---


class AckIn(BaseModel):
    contact_id: Annotated[int, Field(strict=True, ge=1, le=2**53 - 1)] | None = Field(
        None, description="acknowledge for this contact; omitted: as yourself (your account)"
    )


class ResolveIn(BaseModel):
    outcome: Outcome


class AlertListItem(BaseModel):
    id: int
    band_id: str
    kind: str = Field(description="fall, band_silent, low_battery, hr_high, ...")
    state: str = Field(description="pending, dispatched, acknowledged, resolved, ...")
    event_t: OffsetTimestamp
    confidence: float | None
    created_at: OffsetTimestamp
    dispatch_at: OffsetTimestamp


class Delivery(BaseModel):
    id: int
    kind: str = Field(description="alert, handled or repeat")
    webhook_id: str
    contact: str = Field(description="the contact's name")
    state: str
    attempts: int
    last_error: str | None
    delivered_at: dt.datetime | None


class TimelineEvent(BaseModel):
    at: dt.datetime
    event: str
    detail: dict[str, Any]


class AlertDetail(AlertListItem):
    """One alert in full; its timestamps have always been written with "Z"."""

    event_t: dt.datetime
    created_at: dt.datetime
    dispatch_at: dt.datetime
    fall_seq: int | None = Field(
        description="seq of the band record that raised it (fall or help button)"
    )
    details: dict[str, Any]
    acknowledged_by: int | None = Field(description="contact id")
    acknowledged_by_account: int | None = Field(description="account id, when signed in")
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: Outcome | None
    next_repeat_at: dt.datetime | None
    repeats: int
    deliveries: list[Delivery]
    timeline: list[TimelineEvent]


class AckLinkResult(BaseModel):
    message: str
    alert_id: int
    state: str


# --- dead letters ---


class DeadLetter(BaseModel):
    id: int
    received_at: dt.datetime
    topic: str
    band_id: str | None
    stream: str | None
    reason: str
    size: int = Field(description="bytes in the rejected message")
    payload: str | None = Field(
        description="as UTF-8, undecodable bytes replaced; null in support's view"
    )
