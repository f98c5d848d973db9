"""The fast path of validation (the whole payload typed in one call) accepts exactly
what the record-by-record path accepts, and gives way to it for every rejection."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bandhub.contracts.messages import Topics
from ingest.validate import parse_message, parse_one_by_one

T0 = 1_795_478_400
TOPIC = Topics().records("BH-0001", "hr")


def _batch(v=1, **record) -> bytes:
    rec = {"seq": 1, "t": T0, "bpm": 60, "rr_ms": [1000.0], "contact": True} | record
    return json.dumps({"v": v, "band_id": "BH-0001", "gateway_id": "gw", "stream": "hr",
                       "received_at": T0, "records": [rec, rec | {"seq": 2}]}).encode()  # fmt: skip


PAYLOADS = {
    "valid": _batch(),
    "v 1.0": _batch(v=1.0),
    "v 2": _batch(v=2),
    "seq as text": _batch(seq="5"),
    "seq 5.5": _batch(seq=5.5),
    "seq too big": _batch(seq=2**40),
    "bpm true": _batch(bpm=True),
    "bpm 400": _batch(bpm=400),
    "bpm null": _batch(bpm=None),
    "contact 1": _batch(contact=1),
    "rr as text": _batch(rr_ms="x"),
    "rr 100 ms": _batch(rr_ms=[100.0]),
    "t as text": _batch(t=str(T0)),
    "t NaN": _batch().replace(f'"t": {T0}'.encode(), b'"t": NaN', 1),
    "t an hour ahead": _batch(t=T0 + 3600),
    "t two years back": _batch(t=T0 - 2 * 365 * 86400),
    "an extra field": _batch(extra=1),
    "a key twice": _batch().replace(b'"bpm": 60', b'"bpm": 60, "bpm": 400', 1),
    "not JSON": b"{nope",
    "other band": _batch().replace(b'"band_id": "BH-0001"', b'"band_id": "BH-0002"'),
    "gateway id ending in a newline": _batch().replace(b'"gw"', b'"gw\\n"'),
    "gateway id starting with a dash": _batch().replace(b'"gw"', b'"-gw"'),
    "bounds met": _batch(seq=2**32 - 1, bpm=250, rr_ms=[200.001, 2999.999], contact=None),
    "bounds passed": _batch(seq=2**32, bpm=19, rr_ms=[200.0]),
    "t in 2100": _batch(t=4_102_444_800.5),
    "no rr, no contact": _batch().replace(b', "rr_ms": [1000.0], "contact": true', b""),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_both_paths_agree(name):
    payload = PAYLOADS[name]
    fast = parse_message(Topics(), TOPIC, payload, 300.0, 365 * 86400.0)
    slow = parse_one_by_one("BH-0001", "hr", payload, 300.0, 365 * 86400.0)
    assert fast.records == slow.records
    assert [(r.reason, r.payload) for r in fast.rejections] == [
        (r.reason, r.payload) for r in slow.rejections
    ]
    assert (fast.band_id, fast.stream, fast.gateway_id) == (
        slow.band_id, slow.stream, slow.gateway_id
    )  # fmt: skip


_NUMBERS = st.one_of(
    st.integers(-(2**33), 2**33),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([19, 20, 250, 251, 200.0, 200.0001, 2999.999, 3000.0, 2**32 - 1, 2**32]),
    st.sampled_from([946_684_799.9, 946_684_800, 4_102_444_800, 4_102_444_800.5, T0 + 0.5]),
)
_VALUES = st.one_of(_NUMBERS, st.booleans(), st.none(), st.text(max_size=3))
_RECORDS = st.fixed_dictionaries(  # each field valid about half the time
    {"seq": st.one_of(st.integers(0, 2**32 - 1), _VALUES),
     "t": st.one_of(st.floats(T0 - 100, T0 + 100), _VALUES),
     "bpm": st.one_of(st.integers(20, 250), _VALUES)},
    optional={"rr_ms": st.one_of(st.lists(st.floats(201, 2999), max_size=3),
                                 st.lists(_VALUES, max_size=3), _VALUES),
              "contact": st.one_of(st.booleans(), _VALUES), "extra": _VALUES},
)  # fmt: skip
_IDS = st.one_of(
    st.just("BH-0001"), st.just("BH-0001\n"), st.just("gw"), st.just("-gw"), st.text(max_size=5)
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(_RECORDS, min_size=1, max_size=3),
    band=_IDS,
    gateway=_IDS,
    received=st.one_of(st.just(T0), _NUMBERS),
    offset=st.one_of(st.just(0.0), _NUMBERS),
)
def test_fast_path_accepts_only_what_the_contract_accepts(records, band, gateway, received, offset):
    """Whatever heart-rate payload a gateway sends, the msgspec path and pydantic's
    record-by-record path store the same records and dead-letter the same ones."""
    body = {"v": 1, "band_id": band, "gateway_id": gateway, "stream": "hr",
            "received_at": received, "clock_offset_s": offset, "records": records}  # fmt: skip
    payload = json.dumps(body).encode()
    fast = parse_message(Topics(), TOPIC, payload, 300.0, 365 * 86400.0)
    slow = parse_one_by_one("BH-0001", "hr", payload, 300.0, 365 * 86400.0)
    assert fast.records == slow.records
    assert [r.reason for r in fast.rejections] == [r.reason for r in slow.rejections]
