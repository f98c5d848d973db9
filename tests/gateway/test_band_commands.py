"""What each command writes to a band, and which arguments are refused before the
band is touched (docs/mqtt.md "Commands", docs/gatt.md "Control Point")."""

from __future__ import annotations

import datetime as dt

import pytest

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import CommandRequest
from gateway.band_clock import local_time_information
from gateway.band_commands import (
    ControlPointRequest,
    InvalidCommand,
    SetTimeZone,
    ShowAlert,
    band_request,
)


def request(cmd: str, **args) -> ShowAlert | ControlPointRequest:
    return band_request(CommandRequest(v=1, id="c-1", cmd=cmd, args=args))


@pytest.mark.parametrize(
    ("cmd", "args", "op", "operand"),
    [
        ("find_band", {"seconds": 3}, g.Command.FIND_BAND, b"\x03"),
        ("find_band", {"seconds": 600}, g.Command.FIND_BAND, b"\xff"),  # capped to u8
        ("vibrate", {}, g.Command.VIBRATE, b"\x01\x05"),  # pattern 1, 5 s by default
        ("fall_countdown", {}, g.Command.FALL_COUNTDOWN, (30).to_bytes(2, "little")),
        ("fall_cancel", {}, g.Command.FALL_COUNTDOWN_CANCEL, b""),
        ("set_hr_interval", {"seconds": 2}, g.Command.SET_HR_INTERVAL, b"\x02\x00"),
        ("reboot", {}, g.Command.REBOOT, b""),
        ("raw_stream", {"hz": 50}, g.Command.SET_RAW_STREAM, b"\x32"),
        ("raw_stream", {"on": False}, g.Command.SET_RAW_STREAM, b"\x00"),
    ],
)
def test_control_point_commands(cmd, args, op, operand):
    assert request(cmd, **args) == ControlPointRequest(op, operand)


def test_a_message_and_a_call_show_an_alert_on_the_band():
    sms = request("message", text="Lunch at 1?")
    assert sms == ShowAlert(
        g.encode_new_alert(g.AlertCategory.SMS, 1, "Lunch at 1?"), "sms alert shown"
    )
    assert request("call", text="Ann").shown == "call alert shown"


def test_profile_and_alarm_are_encoded_as_the_band_decodes_them():
    profile = request("set_profile", age=71, height_cm=162, weight_kg=58.4)
    assert profile.op == g.Command.SET_PROFILE
    assert g.Profile.decode(profile.operand).weight_kg == 58.4
    alarm = request("set_alarm", slot=2, time="07:30", days=["Monday", "fri"])
    assert alarm.op == g.Command.SET_ALARM
    assert g.Alarm.decode(alarm.operand) == g.Alarm(2, 7, 30, 0b10001)
    assert g.Alarm.decode(request("set_alarm", slot=2, off=True).operand).weekdays == 0


@pytest.mark.parametrize(
    ("cmd", "args", "says"),
    [
        ("set_profile", {"age": 71, "height_cm": 16, "weight_kg": 58.4}, "out of range"),
        ("set_profile", {"age": 71}, "set_profile: 'height_cm'"),
        ("set_alarm", {"time": "7"}, "set_alarm:"),
        ("raw_stream", {"hz": 400}, "hz must be between 0 (off) and 100"),
        ("raw_stream", {"hz": "fast"}, "hz must be between"),
        ("vibrate", {"seconds": 0}, "seconds must be between 1 and 65535"),
        ("fall_countdown", {"seconds": 70000}, "seconds must be between"),
    ],
)
def test_out_of_range_arguments_are_refused_before_the_band_is_touched(cmd, args, says):
    with pytest.raises(InvalidCommand) as refused:
        request(cmd, **args)
    assert says in str(refused.value)


def test_the_wearers_zone_becomes_local_time_information_for_the_band():
    assert request("set_time_zone", zone="Asia/Kathmandu") == SetTimeZone("Asia/Kathmandu")
    with pytest.raises(InvalidCommand, match="no IANA time zone 'UTC\\+8'"):
        request("set_time_zone", zone="UTC+8")
    summer, winter = dt.datetime(2026, 7, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    # Time Zone in 15-minute units of the standard offset, DST Offset 4 = +1 h
    assert local_time_information("Europe/Berlin", summer) == bytes([4, 4])
    assert local_time_information("Europe/Berlin", winter) == bytes([4, 0])
    assert local_time_information("America/New_York", winter) == bytes([256 - 20, 0])
    assert local_time_information("Asia/Kathmandu", winter) == bytes([23, 0])
    for zone, offset in (("Europe/Berlin", 7200), ("Asia/Kathmandu", 20700),
                         ("America/New_York", -18000), ("Pacific/Kiritimati", 50400)):  # fmt: skip
        info = local_time_information(zone, summer if zone == "Europe/Berlin" else winter)
        assert g.decode_local_time_information(info) == offset
    for bad in (b"\x04", bytes([100, 0]), bytes([4, 3])):
        with pytest.raises(g.DecodeError):
            g.decode_local_time_information(bad)
