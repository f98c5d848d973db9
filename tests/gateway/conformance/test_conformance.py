"""Conformance: the gateway against bands it did not write (docs/gatt.md, Conformance).

Each test puts one quirky third-party band (tests/gateway/conformance/band.py, built
from the document alone) next to a well-behaved one on the real bumble stack, with
the real gateway, broker, ingest and PostgreSQL, and checks that every record the
quirky band made is stored exactly once with its true time (or, if it cannot be
decoded, kept raw and reported byte for byte) and that the neighbour is still served.
Run with ``-s`` to see a CONFORMANCE line per quirk: records made and stored, time
to sync.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import eventually
from tests.gateway.conformance.band import Quirks
from tests.gateway.conformance.rig import Outcome, Rig

pytestmark = [pytest.mark.e2e]
HISTORY = 60  # records each band holds when the gateway first meets it


@pytest.fixture
async def rig(settings, broker):
    r = Rig(settings, broker)
    yield r
    await r.close()


async def _pair(rig: Rig, quirks: Quirks, history: int = HISTORY, **gateway):
    neighbour = await rig.band(HISTORY)
    quirky = await rig.band(history, quirks)
    await rig.start_gateway(**gateway)
    return neighbour, quirky


def _report(outcome: Outcome) -> None:
    print(outcome.line())


async def test_a_band_by_the_book(rig):
    neighbour, band = await _pair(rig, Quirks())
    _report(await rig.synced(band, 30, "none (by the book)"))
    await rig.neighbour_still_served(neighbour)
    assert band.held == 0  # the gateway let it forget everything it stored


@pytest.mark.parametrize("skew", [+1, -1])
async def test_last_seq_off_by_one(rig, skew):
    """A band whose REPORT_FROM response names last_seq one too high (or low): the
    gateway acknowledges only what it holds, so nothing unsent is deleted."""
    neighbour, band = await _pair(rig, Quirks(last_seq_skew=skew))
    outcome = await rig.synced(band, 30, f"last_seq {skew:+d}")
    assert rig.gateway is not None
    _report(outcome)
    await rig.neighbour_still_served(neighbour)
    band.make(5)  # and it goes on syncing, with no record left behind
    await eventually(lambda: rig.all_kept(band), 20, "the later records")
    assert band.held == 0


async def test_slow_link_mtu_23(rig):
    """ATT MTU 23 and 10 notifications/s: about 200 B/s. Pages shrink to what the link
    carries in a few seconds, so progress is acknowledged page by page."""
    quirks = Quirks(mtu=23, notifications_per_s=10)
    neighbour, band = await _pair(rig, quirks, history=120)
    outcome = await rig.synced(band, 60, "MTU 23, 200 B/s")
    link_bps = 20 * quirks.notifications_per_s
    total = sum(len(m.frame) for m in band.made)
    first, last = band.transfers[0][0], band.transfers[-1][1]  # first request to last page
    outcome.notes = {"link_Bps": link_bps, "sync_Bps": round(total / (last - first)),
                     "pages": [c for _f, c in band.requests]}  # fmt: skip
    _report(outcome)
    later = [count for _from, count in band.requests[1:]]
    assert len(band.requests) >= 3 and max(later) * 16 <= link_bps * 10  # ~5 s pages
    await rig.neighbour_still_served(neighbour)


async def test_uuid_in_scan_response_only(rig):
    """The vendor UUID only in the scan response, which a passively scanning gateway
    (and the virtual radio) never sees: not a conforming band, but one served when the
    gateway is told its name prefix (BANDHUB_GATEWAY_NAME_PREFIX)."""
    neighbour, band = await _pair(rig, Quirks(uuid_in_scan_response=True),
                                  gateway_name_prefix="ACME-")  # fmt: skip
    _report(await rig.synced(band, 30, "UUID in scan response"))
    await rig.neighbour_still_served(neighbour)


async def test_no_log_status_notifications(rig):
    """Log Status read-only: the gateway polls it, so new records still arrive."""
    neighbour, band = await _pair(rig, Quirks(log_status_notify=False))
    await rig.synced(band, 30, "no Log Status notify")
    band.make(5)
    _report(await rig.synced(band, 20, "no Log Status notify"))
    await rig.neighbour_still_served(neighbour)


async def test_clock_never_set(rig):
    """The band's clock starts in 1970: the gateway measures the offset before setting
    the clock and stores the old records at their true time; new ones need nothing."""
    neighbour, band = await _pair(rig, Quirks(clock_unset=True))
    await rig.synced(band, 30, "clock unset")
    assert "clock_set" in band.events
    band.make(5)
    _report(await rig.synced(band, 20, "clock unset"))
    await rig.neighbour_still_served(neighbour)


async def test_clock_never_set_and_link_drops_before_sync(rig):
    """The clock is set, then the link drops before the old records are synced: on the
    next connection the band's clock is right, and the old records still carry the
    offset measured before it was set (kept in the gateway's state)."""
    quirks = Quirks(clock_unset=True, reboot_after_notifications=2)
    neighbour, band = await _pair(rig, quirks)
    _report(await rig.synced(band, 40, "clock unset, then reboot"))
    assert band.events.count("connected") >= 2 and band.events.count("clock_set") >= 2
    await rig.neighbour_still_served(neighbour)


async def test_optional_services_missing(rig):
    """Only the mandatory characteristics: records sync; commands that need a missing
    service answer `unsupported`."""
    neighbour, band = await _pair(rig, Quirks(optional_services=False))
    _report(await rig.synced(band, 30, "optional services missing"))
    for cmd_id, cmd in [("msg", "message"), ("find", "find_band")]:
        rig.listener.send(f"bandhub/v1/band/{band.serial}/cmd",
                          {"v": 1, "id": cmd_id, "cmd": cmd, "args": {"text": "hi"}})  # fmt: skip
    await eventually(lambda: len(rig.listener.on("/cmd/result")) == 2, 20, "two results")
    results = {r["id"]: (r["status"], r["detail"]) for r in rig.listener.on("/cmd/result")}
    assert results == {"msg": ("unsupported", "band has no Alert Notification service"),
                       "find": ("unsupported", "band has no Control Point")}  # fmt: skip
    await rig.neighbour_still_served(neighbour)


@pytest.mark.parametrize(
    "quirk, quirks",
    [pytest.param("unknown record types", Quirks(unknown_type_every=7), id="unknown record types"),
     pytest.param("wrong-size frames", Quirks(wrong_size_every=9), id="wrong-size frames")],
)  # fmt: skip
async def test_undecodable_frames_are_kept_raw(rig, quirk, quirks):
    """Frames the gateway cannot decode are archived raw (gateway state) and reported
    on …/rejected byte for byte in the same transaction as the page; only then may the
    band forget them."""
    neighbour, band = await _pair(rig, quirks)
    outcome = await rig.synced(band, 30, quirk)
    _report(outcome)
    assert outcome.raw_kept == sum(not m.decodable for m in band.made) > 0
    assert rig.gateway is not None
    archived = {f.seq: f.raw for f in rig.gateway.state.raw_frames(band.serial)}
    assert archived == {m.seq: m.frame for m in band.made if not m.decodable}
    assert band.held == 0
    await rig.neighbour_still_served(neighbour)


async def test_reboot_mid_transfer(rig):
    """The link drops mid-transfer (the band says goodbye): the gateway notices at once,
    drops the partial frame and asks again from its cursor after reconnecting."""
    neighbour, band = await _pair(rig, Quirks(reboot_after_notifications=3))
    gateway = rig.gateway
    assert gateway is not None
    await eventually(lambda: "reboot" in band.events, 30, "the band to reboot")
    rebooted_at = time.monotonic()
    await eventually(lambda: band.serial not in gateway.sessions(), 3, "the gateway to notice")
    noticed_s = time.monotonic() - rebooted_at
    outcome = await rig.synced(band, 40, "reboot mid-transfer")
    outcome.notes = {"noticed_s": round(noticed_s, 1)}
    _report(outcome)
    await rig.neighbour_still_served(neighbour)


async def test_vanishing_while_connected(rig):
    """The band's radio goes away mid-transfer without a goodbye: the gateway notices
    from the stalled transfer (before the band is back 10 s later), keeps serving the
    neighbour meanwhile, and syncs the rest when the band returns."""
    neighbour, band = await _pair(rig, Quirks(vanish_after_notifications=3), history=150)
    gateway = rig.gateway
    assert gateway is not None
    await eventually(lambda: "vanished" in band.events, 30, "the band to vanish")
    gone_at = time.monotonic()
    band.quirks.vanish_after_notifications = None
    await eventually(lambda: band.serial not in gateway.sessions(), 9, "the gateway to notice")
    noticed_s = time.monotonic() - gone_at
    await rig.neighbour_still_served(neighbour)
    outcome = await rig.synced(band, 60, "vanishing while connected")
    outcome.notes = {"noticed_s": round(noticed_s, 1)}
    _report(outcome)
