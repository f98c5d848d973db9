"""Validate one MQTT message into rows, or reasons for dead letters. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired, Required

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model
from typing_extensions import TypedDict

from bandhub.contracts.messages import RECORD_MODELS, HrRecord, RecordBatch, Stream, Topics
from ingest.hr_copy import HrChunk

# The fast path: the whole payload parsed and validated in one call into pydantic-core
# (JSON included), with the records typed. Only a payload it refuses takes the slow
# path below, record by record, which finds what is wrong and says so.
_TYPED_BATCHES = {
    stream.value: create_model(
        f"Typed{model.__name__}Batch",
        __base__=RecordBatch,
        records=(list[model], Field(min_length=1, max_length=10_000)),
    )
    for stream, model in RECORD_MODELS.items()
}


def _as_typed_dict(model: type, name: str, **replace: Any) -> type:
    """A TypedDict with the model's fields and the same checks: pydantic-core validates
    into plain dicts about 4x faster than into model instances (heart rate is nearly
    every record)."""
    fields = {}
    for name_, info in model.model_fields.items():
        typ = replace.get(name_) or (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        fields[name_] = Required[typ] if info.is_required() else NotRequired[typ]
    td = TypedDict(name, fields)
    td.__pydantic_config__ = ConfigDict(extra="forbid")
    return td


_HR_DICT = _as_typed_dict(HrRecord, "HrRecordDict")
_HR_BATCH = TypeAdapter(
    _as_typed_dict(
        RecordBatch,
        "HrBatchDict",
        records=Annotated[list[_HR_DICT], Field(min_length=1, max_length=10_000)],
    )
)
_HR_FIELDS = len(HrRecord.model_fields)
_HR_DEFAULTS = {
    f: info.get_default(call_default_factory=True)
    for f, info in HrRecord.model_fields.items()
    if not info.is_required()
}


def hr_record(rec: HrRecord | dict) -> dict:
    """A heart-rate record as ingest carries it: a dict with every field."""
    if isinstance(rec, dict):
        return rec
    return rec.model_dump()


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
            out.records.append(rec.model_dump() if batch.stream == Stream.HR else rec)
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
    """Heart rate's fast path: records as dicts (every field, defaults filled in), or
    None when anything is refused or implausible in time (the slow path says why)."""
    try:
        batch = _HR_BATCH.validate_json(payload)
    except ValidationError:
        return None
    if batch["band_id"] != topic_band:
        return None
    offset, received = batch.get("clock_offset_s", 0.0), batch["received_at"]
    records = batch["records"]
    for rec in records:
        skew = rec["t"] - offset - received  # as the slow path has it
        if skew > max_future_s or skew < -max_age_s:
            return None
        if len(rec) < _HR_FIELDS:
            for f, default in _HR_DEFAULTS.items():
                if f not in rec:
                    rec[f] = list(default) if isinstance(default, list) else default
    return Parsed(
        batch["band_id"], Stream.HR, batch["received_at"], records, gateway_id=batch["gateway_id"]
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
