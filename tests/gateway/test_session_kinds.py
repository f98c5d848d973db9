"""Which session serves which device: chosen by the kind its advertisement shows."""

from __future__ import annotations

import pytest

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import Topics
from gateway.band_session import BandSession
from gateway.session import DeviceSession, RecordLogSession, SessionContext, SessionOptions
from gateway.session_kinds import BAND, SESSION_KINDS, STRAP, device_kind, new_session
from gateway.state import GatewayState
from gateway.strap_session import StrapSession
from tests.gateway.fakes import FakePublisher, FakeSession

HRS = "0000180d-0000-1000-8000-00805f9b34fb"


@pytest.fixture
def context(tmp_path):
    state = GatewayState(tmp_path / "gw.sqlite")
    yield SessionContext(FakePublisher(), state, Topics(), SessionOptions("gw-test"))
    state.close()


@pytest.mark.parametrize(
    ("uuids", "name", "kind"),
    [
        ([g.VENDOR_SERVICE.upper()], None, BAND),  # UUID case does not matter
        ([g.VENDOR_SERVICE, HRS], "BH-0001", BAND),  # a band also has heart rate
        ([HRS], "Polar H10", STRAP),
        (["0000180f-0000-1000-8000-00805f9b34fb"], "Some speaker", None),
        ([], None, None),
    ],
)
def test_the_kind_comes_from_the_advertised_services(uuids, name, kind):
    assert device_kind(uuids, name) == kind


def test_a_name_prefix_marks_a_band_and_straps_can_be_turned_away():
    assert device_kind([], "BH-0007", name_prefix="BH-") == BAND
    assert device_kind([], "XY-0007", name_prefix="BH-") is None
    assert device_kind([], "BH-0007") is None  # no prefix set: names say nothing
    assert device_kind([HRS], "Polar H10", accept_heart_rate_devices=False) is None


def test_the_factory_makes_the_session_of_each_kind(context):
    band = new_session(BAND, object(), context)
    strap = new_session(STRAP, object(), context)
    assert type(band) is BandSession and type(strap) is StrapSession
    assert set(SESSION_KINDS) == {BAND, STRAP}
    with pytest.raises(ValueError, match="no session for device kind 'toaster'"):
        new_session("toaster", object(), context)


def test_only_a_band_has_a_record_log_but_every_kind_is_a_device_session(context):
    band, strap = new_session(BAND, object(), context), new_session(STRAP, object(), context)
    assert isinstance(band, DeviceSession) and isinstance(strap, DeviceSession)
    assert isinstance(FakeSession("BH-1"), DeviceSession)  # the tests' stand-in conforms
    assert isinstance(band, RecordLogSession)
    assert not isinstance(strap, RecordLogSession)
