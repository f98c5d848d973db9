"""Validate one MQTT message into rows, or reasons for dead letters. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import msgspec
from pydantic import Field, ValidationError, create_model

from bandhub.contracts.messages import RECORD_MODELS, HrRecord, RecordBatch, Stream, Topics
from ingest.hr_copy import HrChunk

# The fast path: the whole payload parsed and validated in one call (pydantic-core, or
# msgspec for heart rate), with the records typed. Only a payload it refuses takes the
# slow path below, record by record, which finds what is wrong and says so.
_TYPED_BATCHES = {
    stream.value: create_model(
        f"Typed{model.__name__}Batch",
        __base__=RecordBatch,
        records=(list[model], Field(min_length=1, max_length=10_000)),
    )
    for stream, model in RECORD_MODELS.items()
    if stream != Stream.HR  # heart rate has msgspec's fast path below
}


def _constraints(info: Any) -> msgspec.Meta:
    """A pydantic field's bounds, lengths and pattern as msgspec's (the contract in
    bandhub.contracts.messages stays the one place they are written)."""
    kw: dict[str, Any] = {}
    for m in getattr(info, "metadata", ()):
        for name in ("ge", "le", "gt", "lt", "min_length", "max_length", "pattern"):
            if getattr(m, name, None) is not None:
                kw[name] = getattr(m, name)
    if kw.get("pattern", "").endswith("$"):  # pydantic's `$` is the very end, re's `\Z`
        kw["pattern"] = kw["pattern"][:-1] + r"\Z"
    return msgspec.Meta(**kw)


def _typed(model: type, name: str) -> Any:
    info = model.model_fields[name]
    return Annotated[info.annotation, _constraints(info)]


_RR = get_args(get_args(HrRecord.model_fields["rr_ms"].annotation)[0])  # (float, FieldInfo)
_Seq = _typed(HrRecord, "seq")
_Time = _typed(HrRecord, "t")
_Bpm = _typed(HrRecord, "bpm")
_RrMs = Annotated[_RR[0], _constraints(_RR[1])]
_BandId = _typed(RecordBatch, "band_id")
_GatewayId = _typed(RecordBatch, "gateway_id")
_Received = _typed(RecordBatch, "received_at")
_RecordsMeta = _constraints(RecordBatch.model_fields["records"])


class HrRow(msgspec.Struct, forbid_unknown_fields=True):
    """A heart-rate record as ingest carries it: the contract's HrRecord, checked the
    same way, decoded by msgspec (4x faster than pydantic; nearly every record is one)."""

    seq: _Seq
    t: _Time
    bpm: _Bpm
    rr_ms: list[_RrMs] = []
    contact: bool | None = None


class _HrBatch(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[1]
    band_id: _BandId
    gateway_id: _GatewayId
    stream: Literal["hr"]
    received_at: _Received
    records: Annotated[list[HrRow], _RecordsMeta]
    clock_offset_s: float = 0.0


_HR_BATCH = msgspec.json.Decoder(_HrBatch)


def hr_record(rec: HrRecord | HrRow | dict) -> HrRow:
    """A heart-rate record as ingest carries it."""
    if type(rec) is HrRow:
        return rec
    return HrRow(**(rec if isinstance(rec, dict) else rec.model_dump()))


@dataclass
class Rejection:
    reason: str
    payload: bytes
    band_id: str | None = None
    stream: str | None = None


@dataclass
class Parsed:
    """Valid records of one message (possibly none) and what was rejected from it."""

    band_id: str | None = None
    stream: Stream | None = None
    received_at: float = 0.0
    records: list = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    gateway_id: str | None = None
    encoded: HrChunk | None = None  # heart rate's records as COPY rows (ingest.hr_copy)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "payload"
    return f"{loc}: {err['msg']}" + (
        f" ({exc.error_count()} errors)" if exc.error_count() > 1 else ""
    )


def parse_message(
    topics: Topics,
    topic: str,
    payload: bytes,
    max_future_s: float = 300.0,
    max_age_s: float = 365 * 86400.0,
) -> Parsed:
    """Validate one message. A record whose band time, corrected by the clock offset
    the gateway measured, lies more than ``max_future_s`` after the gateway received
    it, or more than ``max_age_s`` before, is dead-lettered: a wrong band clock must
    not put data on the wrong day silently."""
    try:
        topic_band, topic_stream = topics.parse_records_topic(topic)
    except ValueError as exc:
        return Parsed(rejections=[Rejection(str(exc), payload)])
    if topic_stream not in {s.value for s in Stream}:
        known = ", ".join(s.value for s in Stream)
        reason = f"unknown stream {topic_stream!r} in topic (known: {known})"
        return Parsed(rejections=[Rejection(reason, payload, topic_band, topic_stream)])
    if topic_stream == Stream.HR.value:
        fast = _fast_hr(topic_band, payload, max_future_s, max_age_s)
        if fast is not None:
            return fast
        return parse_one_by_one(topic_band, topic_stream, payload, max_future_s, max_age_s)
    try:
        typed = _TYPED_BATCHES[topic_stream].model_validate_json(payload)
    except ValidationError:
        pass  # the slow path finds out why
    else:
        if typed.band_id == topic_band and typed.stream.value == topic_stream:
            fast = _all_in_time(typed, max_future_s, max_age_s)
            if fast is not None:
                return fast
    return parse_one_by_one(topic_band, topic_stream, payload, max_future_s, max_age_s)


def parse_one_by_one(
    topic_band: str, topic_stream: str, payload: bytes, max_future_s: float, max_age_s: float
) -> Parsed:
    """The slow path: the batch, then each record on its own, each rejection with its
    reason (and the record's own JSON)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return Parsed(rejections=[Rejection(f"not JSON: {exc}", payload, topic_band, topic_stream)])
    try:
        batch = RecordBatch.model_validate(data)
    except ValidationError as exc:
        return Parsed(
            rejections=[
                Rejection(f"invalid batch: {_first_error(exc)}", payload, topic_band, topic_stream)
            ]
        )
    if batch.band_id != topic_band or batch.stream.value != topic_stream:
        reason = (
            f"topic says band {topic_band!r} stream {topic_stream!r}, payload says "
            f"band {batch.band_id!r} stream {batch.stream.value!r}"
        )
        return Parsed(rejections=[Rejection(reason, payload, topic_band, topic_stream)])
    out = Parsed(batch.band_id, batch.stream, batch.received_at, gateway_id=batch.gateway_id)
    model = RECORD_MODELS[batch.stream]
    for i, raw in enumerate(batch.records):
        try:
            rec = model.model_validate(raw)
            skew = rec.t - batch.clock_offset_s - batch.received_at
            if skew > max_future_s or skew < -max_age_s:
                when = "in the future" if skew > 0 else "in the past"
                out.rejections.append(
                    Rejection(
                        f"record {i} (seq {rec.seq}): timestamp {abs(skew):.0f} s {when} of"
                        " the gateway's receive time (band clock wrong?)",
                        json.dumps(raw).encode(),
                        batch.band_id,
                        batch.stream.value,
                    )
                )
                continue
            out.records.append(hr_record(rec) if batch.stream == Stream.HR else rec)
        except ValidationError as exc:
            out.rejections.append(
                Rejection(
                    f"record {i} (seq {raw.get('seq', '?')}): {_first_error(exc)}",
                    json.dumps(raw).encode(),
                    batch.band_id,
                    batch.stream.value,
                )
            )
    return out


def _fast_hr(topic_band: str, payload: bytes, max_future_s: float, max_age_s: float):
    """Heart rate's fast path: records as ``HrRow``, or None when anything is refused or
    implausible in time (the slow path says why)."""
    try:
        batch = _HR_BATCH.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if batch.band_id != topic_band:
        return None
    offset, received = batch.clock_offset_s, batch.received_at
    for rec in batch.records:
        skew = rec.t - offset - received  # as the slow path has it
        if skew > max_future_s or skew < -max_age_s:
            return None
    return Parsed(
        batch.band_id, Stream.HR, batch.received_at, batch.records, gateway_id=batch.gateway_id
    )


def _all_in_time(batch, max_future_s: float, max_age_s: float) -> Parsed | None:
    """The typed batch's records when every one is plausible in time; else None, for
    the slow path to dead-letter the others with their raw JSON."""
    for rec in batch.records:
        skew = rec.t - batch.clock_offset_s - batch.received_at  # as the slow path has it
        if skew > max_future_s or skew < -max_age_s:
            return None
    out = Parsed(batch.band_id, batch.stream, batch.received_at, gateway_id=batch.gateway_id)
    out.records = batch.records
    return out
