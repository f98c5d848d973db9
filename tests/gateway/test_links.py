"""A device link's bookkeeping and the status support sees, without a radio."""

from __future__ import annotations

from gateway.links import BACKOFF_MAX_S, BandLink, retry_delay
from gateway.session_kinds import BAND
from gateway.status import band_status
from tests.gateway.fakes import FakeSession


def test_backoff_grows_with_each_failure_up_to_a_ceiling_with_jitter():
    for failures in range(1, 12):
        delays = [retry_delay(failures) for _ in range(50)]
        ceiling = min(BACKOFF_MAX_S, 0.5 * 2**failures)
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter: bands that dropped together spread out
    assert max(retry_delay(20) for _ in range(50)) <= BACKOFF_MAX_S


def test_a_failing_link_backs_off_and_says_why_in_its_status():
    link = BandLink("F0:F1:F2:F3:F4:01", BAND, band_id="BH-0001")
    link.failed(TimeoutError("no answer"))
    assert not link.due(now=0.0) and link.failures == 1
    link.failed(ConnectionError("lost"))
    status = band_status(link, "gw-1", stored_cursor=1234)
    assert not status.connected
    assert status.last_error == "ConnectionError: lost"
    assert [e.event for e in status.history] == ["failed", "failed"]
    assert (status.reconnects, status.next_seq, status.backlog) == (2, 1234, 0)
    link.retry_now()  # the watchdog reset the radio: try at once
    assert link.due(now=0.0) and link.failures == 0


def test_a_connected_link_reports_the_session_and_a_drop_is_in_its_history():
    link = BandLink("F0:F1:F2:F3:F4:01", BAND)
    link.failed(OSError("busy"))
    session = FakeSession("BH-0001")
    session.stats.firmware, session.stats.battery = "1.0.0-sim", 84
    session.stats.clock_offset_s = -0.41234
    link.opened(session)
    status = band_status(link, "gw-1", stored_cursor=7)
    assert status.connected and status.band_id == "BH-0001" and link.failures == 0
    assert (status.firmware, status.battery_percent, status.clock_offset_s) == (
        "1.0.0-sim", 84, -0.412
    )  # fmt: skip
    link.session = None
    link.dropped()
    assert [e.event for e in band_status(link, "gw-1", 7).history] == [
        "failed", "connected", "disconnected"
    ]  # fmt: skip


def test_the_history_keeps_the_last_twenty_events():
    link = BandLink("F0:F1:F2:F3:F4:01", BAND, band_id="BH-0001")
    for i in range(25):
        link.record("failed", str(i))
    assert [e.detail for e in link.history] == [str(i) for i in range(5, 25)]
