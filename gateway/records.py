"""Turn decoded band records into MQTT record batches (docs/mqtt.md)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import SCHEMA_VERSION, Stream, Topics

STREAM_OF: dict[g.RecordType, Stream] = {
    g.RecordType.HEART_RATE: Stream.HR,
    g.RecordType.EPOCH: Stream.EPOCH,
    g.RecordType.FALL: Stream.FALL,
    g.RecordType.BUTTON: Stream.BUTTON,
    g.RecordType.BATTERY: Stream.BATTERY,
}
_PRESS = {g.ButtonPress.IM_OK: "im_ok", g.ButtonPress.HELP: "help"}


def record_to_dict(rec: g.Record) -> dict:
    """The JSON form of one record; the band's own timestamp is kept as ``t``."""
    base = {"seq": rec.seq, "t": rec.t}
    body = rec.body
    match rec.type:
        case g.RecordType.HEART_RATE:
            assert isinstance(body, g.HeartRateMeasurement)
            return base | {
                "bpm": body.bpm,
                "rr_ms": [round(x, 1) for x in body.rr_ms],
                "contact": body.contact,
            }
        case g.RecordType.EPOCH:
            assert isinstance(body, g.Epoch)
            return base | {
                "steps": body.steps,
                "activity_count": body.activity_count,
                "enmo_mg": body.enmo_mg,
                "hr_mean": body.hr_mean,
                "worn": body.worn,
            }
        case g.RecordType.FALL:
            assert isinstance(body, g.FallWindow)
            return base | {
                "fs_hz": body.fs_hz,
                "pre_samples": body.pre_samples,
                "ax_g": [v / 1000 for v in body.ax_mg],
                "ay_g": [v / 1000 for v in body.ay_mg],
                "az_g": [v / 1000 for v in body.az_mg],
            }
        case g.RecordType.BUTTON:
            return base | {"press": _PRESS[g.ButtonPress(body)]}
        case g.RecordType.BATTERY:
            return base | {"level": int(body)}  # type: ignore[arg-type]
    raise ValueError(f"no stream for record type {rec.type!r}")


def batches(
    records: list[g.Record],
    *,
    band_id: str,
    gateway_id: str,
    received_at: float,
    clock_offset_s: float,
    max_records: int,
) -> list[tuple[Stream, dict]]:
    """Group records by stream, seq ascending, at most ``max_records`` per message."""
    by_stream: dict[Stream, list[dict]] = defaultdict(list)
    for rec in sorted(records, key=lambda r: r.seq):
        by_stream[STREAM_OF[rec.type]].append(record_to_dict(rec))
    out: list[tuple[Stream, dict]] = []
    for stream, items in by_stream.items():
        limit = 20 if stream == Stream.FALL else max_records  # fall windows are large
        for i in range(0, len(items), limit):
            out.append(
                (
                    stream,
                    {
                        "v": SCHEMA_VERSION,
                        "band_id": band_id,
                        "gateway_id": gateway_id,
                        "stream": stream.value,
                        "received_at": received_at,
                        "clock_offset_s": round(clock_offset_s, 3),
                        "records": items[i : i + limit],
                    },
                )
            )
    return out


# the spool is drained in this order: a fall or "I'm OK" goes out ahead of any backlog
PRIORITY = {Stream.FALL: 0, Stream.BUTTON: 0, Stream.HR: 1}


def spool_messages(
    records: list[g.Record],
    *,
    topics: Topics,
    band_id: str,
    gateway_id: str,
    clock_offset_s: float | Callable[[g.Record], tuple[g.Record, float]],
    max_records: int,
) -> list[tuple[int, str, str]]:
    """(priority, topic, JSON payload) of the record batches, ready for the spool.

    ``clock_offset_s`` is one offset for all, or a function giving each record as
    published and its own offset (records made before the band's clock was set carry
    the offset it had then); a batch holds records of one offset."""
    restamp = clock_offset_s if callable(clock_offset_s) else lambda r: (r, clock_offset_s)
    by_offset: dict[float, list[g.Record]] = defaultdict(list)
    for rec in records:
        published, offset = restamp(rec)
        by_offset[offset].append(published)
    received_at = time.time()
    return [
        (PRIORITY.get(stream, 2), topics.records(band_id, stream),
         json.dumps(payload, separators=(",", ":")))
        for offset, group in by_offset.items()
        for stream, payload in batches(
            group,
            band_id=band_id,
            gateway_id=gateway_id,
            received_at=received_at,
            clock_offset_s=offset,
            max_records=max_records,
        )
    ]  # fmt: skip
