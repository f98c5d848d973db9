"""What a command request (docs/mqtt.md) asks of a band over GATT (docs/gatt.md).

Pure translation, range-checked before anything is written, so a command with bad
arguments is answered ``invalid`` without touching the band.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import CommandRequest

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidCommand(Exception):
    """The command's arguments are out of range; the message says which, for the user."""


@dataclass(frozen=True)
class ShowAlert:
    """Write New Alert: a message or call reminder on the band's screen."""

    value: bytes
    shown: str  # the result's detail, e.g. "sms alert shown"


@dataclass(frozen=True)
class ControlPointRequest:
    """Write the Control Point and wait for the band's indication."""

    op: g.Command
    operand: bytes = b""


@dataclass(frozen=True)
class SetTimeZone:
    """Keep the wearer's zone (the gateway writes its offset at every sync) and write
    Local Time Information now: the band's daily step count resets at local midnight."""

    zone: str


def band_request(req: CommandRequest) -> ShowAlert | ControlPointRequest | SetTimeZone:
    """The GATT write that carries ``req``; InvalidCommand when its args are out of range."""
    args = req.args
    if req.cmd in ("message", "call"):
        category = g.AlertCategory.CALL if req.cmd == "call" else g.AlertCategory.SMS
        value = g.encode_new_alert(category, 1, str(args.get("text", "")))
        return ShowAlert(value, f"{category.name.lower()} alert shown")
    if req.cmd == "set_time_zone":
        zone = str(args.get("zone", ""))
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidCommand(f"set_time_zone: no IANA time zone {zone!r}") from exc
        return SetTimeZone(zone)
    if req.cmd in ("set_profile", "set_alarm"):
        try:
            operand = _structured_operand(req.cmd, args)
        except (KeyError, TypeError, ValueError, g.DecodeError) as exc:
            raise InvalidCommand(f"{req.cmd}: {exc}") from exc
        op = g.Command.SET_PROFILE if req.cmd == "set_profile" else g.Command.SET_ALARM
        return ControlPointRequest(op, operand)
    if req.cmd == "raw_stream":
        try:
            hz = 0 if args.get("on") is False else int(args.get("hz", 25))
        except (TypeError, ValueError):
            hz = -1
        if not 0 <= hz <= 100:
            raise InvalidCommand("hz must be between 0 (off) and 100")
        return ControlPointRequest(g.Command.SET_RAW_STREAM, bytes([hz]))
    seconds = int(args.get("seconds", 5 if req.cmd != "fall_countdown" else 30))
    if not 0 < seconds < 65536:
        raise InvalidCommand("seconds must be between 1 and 65535")
    op, operand = {
        "find_band": (g.Command.FIND_BAND, bytes([min(seconds, 255)])),
        "vibrate": (g.Command.VIBRATE, bytes([1, min(seconds, 255)])),
        "fall_countdown": (g.Command.FALL_COUNTDOWN, seconds.to_bytes(2, "little")),
        "fall_cancel": (g.Command.FALL_COUNTDOWN_CANCEL, b""),
        "set_hr_interval": (g.Command.SET_HR_INTERVAL, seconds.to_bytes(2, "little")),
        "reboot": (g.Command.REBOOT, b""),
    }[req.cmd]
    return ControlPointRequest(op, operand)


def _structured_operand(cmd: str, args: dict) -> bytes:
    """The operand of set_profile / set_alarm from the command's args, range-checked by
    the same codec the band uses."""
    if cmd == "set_profile":
        profile = g.Profile(int(args["age"]), int(args["height_cm"]), float(args["weight_kg"]))
        return g.Profile.decode(profile.encode()).encode()
    days = args.get("days", list(_WEEKDAYS))
    mask = 0 if args.get("off") else sum(1 << _WEEKDAYS.index(str(d).lower()[:3]) for d in days)
    hour, minute = (int(x) for x in str(args.get("time", "00:00")).split(":"))
    alarm = g.Alarm(int(args.get("slot", 0)), hour, minute, mask)
    return g.Alarm.decode(alarm.encode()).encode()
