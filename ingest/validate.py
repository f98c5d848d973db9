"""Validate one MQTT message into rows, or reasons for dead letters. No I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from bandhub.contracts.messages import RECORD_MODELS, RecordBatch, Stream, Topics


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
            out.records.append(rec)
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
