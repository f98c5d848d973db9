"""Commands to a band for those with the right (find my band, a message or call
reminder, alarms, sedentary reminder, measurement interval, raw streaming), relayed
over MQTT by the server; the gateway reports each result on ``…/cmd/result``."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.errors import ApiError, error_responses
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand
from bandhub.contracts.messages import CommandRequest

router = APIRouter(tags=["commands"])

AppCommand = Literal[
    "find_band", "vibrate", "message", "call", "set_hr_interval", "set_profile", "set_alarm",
    "raw_stream", "reboot",
]  # fmt: skip
# the fall countdown and its cancellation belong to the alert flow, not to the app


# Reaching the wearer (find the band, a reminder) is for whoever looks after them;
# changing how the band works is a setting; raw streaming is live data.
_NEEDS = {
    "find_band": (Scope.ALERTS, Scope.SETTINGS),
    "vibrate": (Scope.ALERTS, Scope.SETTINGS),
    "message": (Scope.ALERTS, Scope.SETTINGS),
    "call": (Scope.ALERTS, Scope.SETTINGS),
    "raw_stream": (Scope.LIVE,),
}


ArgValue = Annotated[
    str | int | float | bool | list[Annotated[str, Field(max_length=16)]] | None,
    Field(description="a number, a short text, a flag, or a list of day names"),
]


class CommandIn(BaseModel):
    cmd: AppCommand
    args: dict[str, ArgValue] = Field(
        default_factory=dict, max_length=8, description="as docs/mqtt.md lists per command"
    )
    ttl_s: Annotated[float, Field(strict=True, gt=0, le=7 * 86400)] = 300.0


class CommandSent(BaseModel):
    id: str = Field(description="the command id the result will carry")
    band_id: str
    cmd: str
    status: Literal["sent"] = "sent"


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def band_clock_alarm(args: dict, zone: str) -> dict:
    """An alarm set in the wearer's local time, as the band keeps it (its clock runs in
    UTC): the time moves by today's offset, and the days with it when that crosses
    midnight. A daylight-saving change needs the alarm set again (docs/accounts.md)."""
    local = args["time"]
    if not isinstance(local, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", local):
        raise ApiError(422, "invalid_request", "args.time: an alarm time is HH:MM")
    today = dt.datetime.now(ZoneInfo(zone)).date()
    at = dt.datetime.combine(today, dt.time.fromisoformat(local), tzinfo=ZoneInfo(zone))
    utc = at.astimezone(dt.UTC)
    shift = (utc.date() - today).days
    out: dict = {"time": utc.strftime("%H:%M")}
    days = args.get("days")
    if isinstance(days, list) and shift:
        if not all(d in _DAYS for d in days):
            raise ApiError(422, "invalid_request", f"args.days: day names are {', '.join(_DAYS)}")
        out["days"] = [_DAYS[(_DAYS.index(d) + shift) % 7] for d in days]
    return out


@router.post(
    "/bands/{band_id}/commands",
    status_code=202,
    response_model=CommandSent,
    summary="Send a command to the band through its gateway",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def send_command(
    body: CommandIn,
    request: Request,
    access: Annotated[BandAccess, Depends(OnBand(Scope.SETTINGS, Scope.ALERTS, Scope.LIVE))],
) -> dict:
    needed = _NEEDS.get(body.cmd, (Scope.SETTINGS,))
    if not access.roles.scopes() & set(needed):
        rights = " or ".join(needed)
        raise ApiError(403, "forbidden", f"{body.cmd} needs the {rights} right")
    args = dict(body.args)
    if body.cmd == "set_alarm" and "time" in args:
        args.update(band_clock_alarm(args, access.band["time_zone"]))
    command = CommandRequest(
        v=1,
        id=f"app-{access.who.account_id}-{time.time_ns()}",
        cmd=body.cmd,
        args=args,
        ttl_s=body.ttl_s,
        issued_at=time.time(),
    )
    await request.app.state.commands.publish(access.band_id, command)
    return {"id": command.id, "band_id": access.band_id, "cmd": body.cmd}
