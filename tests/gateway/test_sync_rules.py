"""The gateway's rules for what to acknowledge, how big a page to ask for, and which
clock offset a record carries."""

from __future__ import annotations

from bandhub.contracts import gatt as g
from gateway.band_clock import BandClock
from gateway.band_session import _held_through
from gateway.page_pacer import FIRST_PAGE, PagePacer
from gateway.state import ClockEpoch


def test_only_an_unbroken_run_of_frames_from_the_cursor_is_acknowledged():
    assert _held_through(10, [10, 11, 12]) == 12
    assert _held_through(10, [12, 13]) == 13  # the band dropped 10-11 itself (flash full)
    assert _held_through(10, [10, 11, 13, 14]) == 11  # 12 missing: 13-14 are asked again
    assert _held_through(10, [8, 9]) is None
    assert _held_through(10, []) is None


def test_pages_shrink_to_a_slow_link_and_grow_on_a_fast_one():
    slow = PagePacer(max_size=400)
    assert slow.size == FIRST_PAGE
    slow.page_done(nbytes=640, records=32, seconds=3.2)  # 200 B/s, 20 B a record
    assert slow.size == 50  # 5 s worth
    assert slow.time_limit_s() == slow.stall_s + 15.0
    fast = PagePacer(max_size=400)
    for _ in range(3):
        fast.page_done(nbytes=fast.size * 20, records=fast.size, seconds=0.05)
    assert fast.size == 400


def _rec(seq: int, t: int) -> g.Record:
    return g.Record(seq, g.RecordType.BATTERY, t, 50)


def test_records_made_before_the_clock_was_set_carry_the_old_offset():
    set_at = 1_800_000_000.0
    clock = BandClock(offset_s=0.4, epochs=[ClockEpoch(100, 102, -3600.0, set_at)])
    assert clock.restamp(_rec(99, 1_799_990_000)) == (_rec(99, 1_799_990_000), -3600.0)
    assert clock.restamp(_rec(105, 1_800_000_100)) == (_rec(105, 1_800_000_100), 0.4)
    # made while the clock was being set: whichever offset puts it at the setting time
    assert clock.restamp(_rec(100, int(set_at) - 3600))[1] == -3600.0
    assert clock.restamp(_rec(101, int(set_at)))[1] == 0.4


def test_a_clock_never_set_is_replaced_by_the_gateways_estimate():
    offset = 6_190_177.0 - 1_800_000_000.0
    clock = BandClock(offset_s=0.0, epochs=[ClockEpoch(5, 5, offset, 1_800_000_000.0)])
    assert clock.restamp(_rec(4, 6_190_170)) == (_rec(4, 1_799_999_993), 0.0)
