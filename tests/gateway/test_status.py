"""Device status for remote support: re-sent while connected, retained, per band."""

from __future__ import annotations

import json

from bandhub.contracts.messages import Topics
from gateway.links import BandLink
from gateway.session_kinds import BAND
from gateway.status import EVERY_S, StatusReporter
from tests.gateway.fakes import Clock, FakeSession


class RetainedLog:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, bool]] = []

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.sent.append((topic, json.loads(payload), retain))


def test_a_connected_band_is_reported_again_every_30_s_and_a_gone_one_is_not():
    clock, log = Clock(1000.0), RetainedLog()
    reporter = StatusReporter("gw-1", Topics(), lambda _band: 42, log.publish, clock=clock)
    here = BandLink("F0:F1:F2:F3:F4:01", BAND)
    here.opened(FakeSession("BH-0001"))
    gone = BandLink("F0:F1:F2:F3:F4:02", BAND, band_id="BH-0002")
    unknown = BandLink("F0:F1:F2:F3:F4:03", BAND)  # never identified: nothing to say
    for link in (here, gone, unknown):
        reporter.report(link)
    assert [(t, retain) for t, _p, retain in log.sent] == [
        ("bandhub/v1/band/BH-0001/status", True), ("bandhub/v1/band/BH-0002/status", True)
    ]  # fmt: skip
    assert log.sent[1][1]["connected"] is False and log.sent[1][1]["next_seq"] == 42
    clock.now += EVERY_S - 1
    reporter.refresh([here, gone, unknown])
    assert len(log.sent) == 2
    clock.now += 1
    reporter.refresh([here, gone, unknown])
    assert [t for t, _p, _r in log.sent[2:]] == ["bandhub/v1/band/BH-0001/status"]
