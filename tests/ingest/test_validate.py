"""The fast path of validation (the whole payload typed in one call) accepts exactly
what the record-by-record path accepts, and gives way to it for every rejection."""

from __future__ import annotations

import json

import pytest

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
