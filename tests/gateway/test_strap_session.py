"""A heart-rate strap without a radio: the gateway numbers its measurements itself,
durably, so the numbers go on where they stopped after a reconnect or a restart."""

from __future__ import annotations

import json

import pytest

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import Topics
from gateway.links import BandLink
from gateway.session import SessionContext, SessionOptions
from gateway.session_kinds import STRAP, new_session
from gateway.state import GatewayState
from gateway.status import band_status
from tests.gateway.fakes import FakePublisher

ADDRESS = "C0:11:22:33:44:55"


class FakeStrapClient:
    """The BLE link to a strap: the test plays its notifications."""

    is_connected = True

    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}

    async def start_notify(self, uuid: str, handler) -> None:
        self.handlers[uuid] = handler

    def beat(self, bpm: int) -> None:
        data = g.encode_heart_rate(g.HeartRateMeasurement(bpm, (880,), True))
        self.handlers[g.HEART_RATE_MEASUREMENT](None, bytearray(data))


@pytest.fixture
def state(tmp_path):
    state = GatewayState(tmp_path / "gw.sqlite")
    yield state
    state.close()


async def connect(state: GatewayState, spooled: list[int] | None = None):
    client = FakeStrapClient()
    context = SessionContext(FakePublisher(), state, Topics(), SessionOptions("gw-test"))
    if spooled is not None:
        context.on_spooled = lambda _band_id, records: spooled.append(records)
    session = new_session(STRAP, client, context)
    await session.open(ADDRESS)
    return session, client


def spooled_seqs(state: GatewayState) -> list[int]:
    return [r["seq"] for e in state.spool_next(100) for r in json.loads(e.payload)["records"]]


async def test_measurements_are_numbered_on_across_reconnects(state):
    spooled: list[int] = []
    session, client = await connect(state, spooled)
    assert session.band_id == "HRM-C01122334455"
    for bpm in (70, 0, 71, 72):  # 0: no skin contact, no reading
        client.beat(bpm)
    session.flush()
    assert spooled == [3]
    again, client = await connect(state)
    client.beat(75)
    again.flush()
    assert spooled_seqs(state) == [0, 1, 2, 3]
    topics = {e.topic for e in state.spool_next(100)}
    assert topics == {"bandhub/v1/band/HRM-C01122334455/rec/hr"}


async def test_a_garbled_notification_is_counted_and_skipped(state):
    session, client = await connect(state)
    client.handlers[g.HEART_RATE_MEASUREMENT](None, bytearray(b"\x10"))
    client.beat(66)
    session.flush()
    assert session.stats.rejected == 1
    assert spooled_seqs(state) == [0]


async def test_a_connected_strap_reports_its_counter_and_no_backlog(state):
    session, client = await connect(state)
    for bpm in (60, 61):
        client.beat(bpm)
    session.flush()
    link = BandLink(ADDRESS, STRAP)
    link.opened(session)
    status = band_status(link, "gw-test", state.cursor(session.band_id))
    assert status.connected and status.firmware == "third-party heart-rate device"
    assert (status.next_seq, status.backlog) == (2, 0)
