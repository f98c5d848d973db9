"""Which clock stamped a record: the band's clock before the gateway set it, or after.

The gateway measures the band's clock offset *before* writing the time, and keeps
that offset (in its state, so it survives a restart) for the records the band made
until then. Records stamped before 2000 come from a clock that was never set; their
``t`` is meaningless to anyone upstream, so they are published with the gateway's
estimate (band time minus the offset) and an offset of 0 (docs/gatt.md, Current Time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from bandhub.contracts import gatt as g
from gateway.state import ClockEpoch

PLAUSIBLE_FROM = 946_684_800  # 2000-01-01 UTC: earlier stamps come from a clock never set
SET_TOLERANCE_S = 2.0  # a smaller correction is not worth an epoch of its own


@dataclasses.dataclass
class BandClock:
    """The offsets of one band's clock: ``epochs`` before earlier settings (oldest
    first) and ``offset_s`` as measured in this session (after any setting)."""

    offset_s: float = 0.0
    epochs: list[ClockEpoch] = dataclasses.field(default_factory=list)

    def offset_for(self, seq: int, t: int) -> float:
        for i, epoch in enumerate(self.epochs):
            later = self.epochs[i + 1].offset_s if i + 1 < len(self.epochs) else self.offset_s
            if seq < epoch.from_seq:
                return epoch.offset_s
            if seq < epoch.before_seq:  # made while the clock was being set: either clock
                return min((epoch.offset_s, later), key=lambda o: abs(t - o - epoch.set_at))
        return self.offset_s

    def restamp(self, rec: g.Record) -> tuple[g.Record, float]:
        """The record as published and the clock offset that goes with it."""
        offset = round(self.offset_for(rec.seq, rec.t), 3)
        if rec.t < PLAUSIBLE_FROM:
            return dataclasses.replace(rec, t=round(rec.t - offset)), 0.0
        return rec, offset


def local_time_information(zone: str, when: dt.datetime) -> bytes:
    """Local Time Information (0x2A0F) for the wearer's IANA ``zone`` at ``when``: the
    offset in force then (a DST change reaches the band at its next sync)."""
    local = when.astimezone(ZoneInfo(zone))
    offset, dst = local.utcoffset(), local.dst()
    assert offset is not None
    return g.encode_local_time_information(
        int(offset.total_seconds()), int(dst.total_seconds()) if dst else 0
    )
