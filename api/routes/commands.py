"""Commands to a band for those with the right (find my band, a message or call
reminder, alarms, sedentary reminder, measurement interval, raw streaming), relayed
over MQTT by the server; the gateway reports each result on ``…/cmd/result``."""

from __future__ import annotations

import time
from typing import Annotated, Literal

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
    command = CommandRequest(
        v=1,
        id=f"app-{access.who.account_id}-{time.time_ns()}",
        cmd=body.cmd,
        args=body.args,
        ttl_s=body.ttl_s,
        issued_at=time.time(),
    )
    await request.app.state.commands.publish(access.band_id, command)
    return {"id": command.id, "band_id": access.band_id, "cmd": body.cmd}
