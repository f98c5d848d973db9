"""Heart-rate records as binary COPY rows and per-minute aggregates, in one pass.

Nearly every record is heart rate. The parser thread encodes each message's records
here (one ``struct.pack`` a record) while the writer thread stores the previous
batch, so the writer only moves bytes and waits for PostgreSQL; psycopg's row-by-row
COPY formatting and the rollups' aggregation no longer hold it up.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.pg_binary import MINUTE_US, PG_EPOCH, pg_micros

# the columns the encoded rows fill, in order (hr's, as the writer copies them)
COLUMNS = ("band_id", "seq", "t", "bpm", "rr_ms", "contact", "received_at")
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
_REAL = 700
_LAYOUTS: dict[tuple[int, int, bool], struct.Struct] = {}  # one per row shape
_NULL = -1


@dataclass(slots=True)
class HrChunk:
    """One message's heart-rate records, encoded."""

    band_id: str
    data: bytes  # binary COPY tuples, without the signature and trailer
    n: int
    t_min: int  # microseconds since 2000-01-01 UTC
    t_max: int
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute -> n, sum, min, max


def _layout(band_len: int, n_rr: int, has_contact: bool) -> struct.Struct:
    key = (band_len, n_rr, has_contact)
    layout = _LAYOUTS.get(key)
    if layout is None:
        rr = "iiii" if not n_rr else "i5i" + "if" * n_rr  # its length, then the array
        contact = "i?" if has_contact else "i"
        layout = struct.Struct(f"!hi{band_len}siqiqih{rr}{contact}iq")
        _LAYOUTS[key] = layout
    return layout


def encode(band_id: str, records: Sequence[Any], received_at: float) -> HrChunk:
    """Rows (band_id, seq, t, bpm, rr_ms, contact, received_at) in binary COPY form,
    and the records' per-minute count, sum, min and max of bpm. ``records`` have the
    fields as attributes (``ingest.validate.HrRow``). Written for speed: this runs
    for nearly every record ingest stores (1.3 µs a record here)."""
    band = band_id.encode()
    size = len(band)
    received = pg_micros(received_at)
    parts: list[bytes] = []
    append = parts.append
    times: list[int] = []
    minutes: dict[int, list[int]] = {}
    layouts: dict[tuple[int, bool], struct.Struct] = {}
    for r in records:
        t = r.t
        seconds = int(t)
        frac = t - seconds  # pg_micros, inlined
        t = (seconds - PG_EPOCH) * 1_000_000 + (round(frac * 1e6) if frac else 0)
        times.append(t)
        bpm, rr, contact = r.bpm, r.rr_ms, r.contact
        n_rr = len(rr)
        layout = layouts.get((n_rr, contact is None))
        if layout is None:
            layout = layouts[n_rr, contact is None] = _layout(size, n_rr, contact is not None)
        args = [7, size, band, 8, r.seq, 8, t, 2, bpm]
        if n_rr:
            args += (20 + 8 * n_rr, 1, 0, _REAL, n_rr, 1)
            for v in rr:
                args += (4, v)
        else:
            args += (12, 0, 0, _REAL)
        args += (_NULL, 8, received) if contact is None else (1, contact, 8, received)
        append(layout.pack(*args))
        m = t // MINUTE_US
        a = minutes.get(m)
        if a is None:
            minutes[m] = [1, bpm, bpm, bpm]
        else:
            a[0] += 1
            a[1] += bpm
            if bpm < a[2]:
                a[2] = bpm
            elif bpm > a[3]:
                a[3] = bpm
    if not times:
        return HrChunk(band_id, b"", 0, 0, 0, {})
    return HrChunk(band_id, b"".join(parts), len(parts), min(times), max(times), minutes)


def payload(chunks: Iterable[HrChunk]) -> bytes:
    """A whole binary COPY stream of these chunks' rows."""
    return b"".join([SIGNATURE, *(c.data for c in chunks), TRAILER])


def add_aggregate(acc: dict, key, n: int, total: int, lo: int, hi: int) -> None:
    """Fold one [count, sum, min, max] into ``acc[key]``."""
    a = acc.get(key)
    if a is None:
        acc[key] = [n, total, lo, hi]
    else:
        a[0] += n
        a[1] += total
        a[2] = min(a[2], lo)
        a[3] = max(a[3], hi)


def merged_minutes(chunks: Iterable[HrChunk]) -> dict[tuple[str, int], list[int]]:
    """(band_id, minute) -> count, sum, min, max of bpm over all the chunks."""
    out: dict[tuple[str, int], list[int]] = {}
    for c in chunks:
        for m, agg in c.minutes.items():
            add_aggregate(out, (c.band_id, m), *agg)
    return out
