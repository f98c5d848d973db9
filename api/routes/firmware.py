"""Firmware updates: the catalogue and its rollout for bandhub support, and for those
looking after a band, the update on offer (release notes in their language), its
progress, and the owner's answer: now, tonight, at a time, or later."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from api import firmware
from api.deps import DbConn, IdPath, SettingsDep
from api.errors import ApiError, error_responses
from api.security.access import Principal, Scope
from api.security.policy import BandAccess, OnBand, SupportStaff

router = APIRouter(tags=["firmware"])
log = logging.getLogger(__name__)

_TONIGHT = dt.time(2, 0)  # band local time: asleep and, usually, charging
Lang = Literal["en", "zh-CN"]


class Release(BaseModel):
    id: int
    model: str
    version: str
    notes_en: str
    notes_zh: str
    size: int
    sha256: str
    rollout: Literal["none", "all", "percent", "group"]
    rollout_percent: int
    rollout_group: str | None
    paused: bool
    created_at: dt.datetime


class ReleaseIn(BaseModel):
    image_b64: Annotated[str, Field(min_length=88, max_length=1_400_000)]
    signature_hex: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{128}$")]
    notes_en: Annotated[str, Field(max_length=4000)] = ""
    notes_zh: Annotated[str, Field(max_length=4000)] = ""


class RolloutIn(BaseModel):
    mode: Literal["none", "all", "percent", "group"]
    percent: Annotated[int | None, Field(ge=0, le=100)] = None
    group: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class RolloutOut(BaseModel):
    release: Release
    reminded: list[str] = Field(description="bands told of the update just now")


class GroupIn(BaseModel):
    band_ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=10_000)


class Offer(BaseModel):
    version: str
    notes: str
    notes_lang: Lang
    size: int
    released_at: dt.datetime


class Choice(BaseModel):
    choice: Literal["now", "scheduled", "postponed"] | None
    scheduled_for: dt.datetime | None
    postponed_until: dt.datetime | None
    command_id: str | None


class BandFirmware(BaseModel):
    band_id: str
    model: str = Field(description="as the band's gateway last reported ('' unknown)")
    current: str = Field(description="the version the band runs ('' unknown)")
    available: Offer | None = Field(description="the update on offer, if any")
    choice: Choice | None
    reminded_at: dt.datetime | None
    progress: dict | None = Field(
        description="the gateway's view of the update under way or last made (docs/mqtt.md)"
    )


class UpdateIn(BaseModel):
    action: Literal["now", "tonight", "at", "postpone"]
    at: AwareDatetime | None = Field(None, description="for 'at': when to start (< 6 days)")
    postpone_days: Annotated[int, Field(ge=1, le=30)] = 3


class UpdateOut(BaseModel):
    band_id: str
    version: str
    action: str
    command_id: str | None
    scheduled_for: dt.datetime | None
    postponed_until: dt.datetime | None


def _language(lang: str | None, accept: str | None) -> Lang:
    wanted = lang or (accept or "").split(",")[0].strip()
    return "zh-CN" if wanted.lower().startswith("zh") else "en"


# --- support: the catalogue ------------------------------------------------------------
Support = Annotated[Principal, Depends(SupportStaff())]


@router.get(
    "/firmware/releases",
    response_model=list[Release],
    summary="The firmware catalogue (support)",
    responses=error_responses(401, 403),
)
async def list_releases(conn: DbConn, _: Support) -> list[dict]:
    return await firmware.releases(conn)


@router.post(
    "/firmware/releases",
    status_code=201,
    response_model=Release,
    summary="Add a signed release; model and version come from the image header (support)",
    responses=error_responses(401, 403, 409, 422),
)
async def add_release(body: ReleaseIn, conn: DbConn, settings: SettingsDep, _: Support) -> dict:
    try:
        image = base64.b64decode(body.image_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "invalid_image", "image_b64 is not base64") from exc
    return await firmware.add_release(
        conn, image, bytes.fromhex(body.signature_hex), body.notes_en, body.notes_zh,
        settings.firmware_public_key,
    )  # fmt: skip


async def _remind(conn, request: Request) -> list[str]:
    """Tell the bands the rollout now reaches; the rollout stands even if the broker is
    away (the next rollout change or ``bandhub firmware remind`` tells them)."""
    try:
        return await firmware.remind(conn, request.app.state.commands)
    except ApiError as exc:
        log.warning("firmware reminders not sent: %s", exc.message)
        return []


@router.put(
    "/firmware/releases/{release_id}/rollout",
    response_model=RolloutOut,
    summary="Offer a release to all bands of its model, a percentage, a group, or none",
    responses=error_responses(401, 403, 404, 422),
)
async def rollout(
    release_id: IdPath, body: RolloutIn, conn: DbConn, request: Request, _: Support
) -> dict:
    release = await firmware.set_rollout(
        conn, release_id, mode=body.mode, percent=body.percent, group=body.group
    )
    return {"release": release, "reminded": await _remind(conn, request)}


@router.post(
    "/firmware/releases/{release_id}/pause",
    response_model=RolloutOut,
    summary="Stop offering a release (bands already updating finish)",
    responses=error_responses(401, 403, 404, 422),
)
async def pause(release_id: IdPath, conn: DbConn, _: Support) -> dict:
    return {"release": await firmware.set_rollout(conn, release_id, paused=True), "reminded": []}


@router.post(
    "/firmware/releases/{release_id}/resume",
    response_model=RolloutOut,
    summary="Offer a paused release again",
    responses=error_responses(401, 403, 404, 422),
)
async def resume(release_id: IdPath, conn: DbConn, request: Request, _: Support) -> dict:
    release = await firmware.set_rollout(conn, release_id, paused=False)
    return {"release": release, "reminded": await _remind(conn, request)}


@router.put(
    "/firmware/groups/{name}",
    response_model=GroupIn,
    summary="Set the bands of a named rollout group",
    responses=error_responses(401, 403, 422),
)
async def set_group(
    name: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    body: GroupIn,
    conn: DbConn,
    _: Support,
) -> dict:
    await firmware.set_group(conn, name, body.band_ids)
    return {"band_ids": body.band_ids}


# --- a band's update ----------------------------------------------------------------------
@router.get(
    "/bands/{band_id}/firmware",
    response_model=BandFirmware,
    summary="The firmware the band runs, the update on offer (notes in your language)",
    responses=error_responses(401, 403, 404, 422),
)
async def band_firmware(
    access: Annotated[BandAccess, Depends(OnBand(Scope.DIAGNOSTICS))],
    conn: DbConn,
    lang: Annotated[Lang | None, Query(description="default: from Accept-Language")] = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> dict:
    band_id = access.band_id
    model, current, progress = await firmware.installed(conn, band_id)
    release = await firmware.offered(conn, band_id)
    chosen = await firmware.choice(conn, band_id)
    language = _language(lang, accept_language)
    offer = None
    if release is not None:
        notes = release["notes_zh"] if language == "zh-CN" else release["notes_en"]
        offer = {
            "version": release["version"], "notes": notes or release["notes_en"],
            "notes_lang": language, "size": release["size"],
            "released_at": release["created_at"],
        }  # fmt: skip
    on_offer = chosen is not None and release is not None and chosen["release_id"] == release["id"]
    return {
        "band_id": band_id, "model": model, "current": current, "available": offer,
        "choice": chosen if on_offer else None,
        "reminded_at": chosen["reminded_at"] if chosen else None, "progress": progress,
    }  # fmt: skip


def _tonight(zone: str) -> dt.datetime:
    now = dt.datetime.now(ZoneInfo(zone))
    at = dt.datetime.combine(now.date(), _TONIGHT, tzinfo=ZoneInfo(zone))
    return at if at > now else at + dt.timedelta(days=1)


@router.post(
    "/bands/{band_id}/firmware/update",
    status_code=202,
    response_model=UpdateOut,
    summary="Install the update on offer now, tonight (02:00 band time), at a time, or later",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def update_band(
    body: UpdateIn,
    request: Request,
    conn: DbConn,
    access: Annotated[BandAccess, Depends(OnBand(Scope.SETTINGS))],
) -> dict:
    band_id = access.band_id
    release = await firmware.offered(conn, band_id)
    if release is None:
        raise ApiError(409, "no_update", "no firmware update is on offer for this band")
    out = {"band_id": band_id, "version": release["version"], "action": body.action,
           "command_id": None, "scheduled_for": None, "postponed_until": None}  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    if body.action == "postpone":
        until = now + dt.timedelta(days=body.postpone_days)
        await firmware.postpone(conn, band_id, release, until)
        return {**out, "postponed_until": until}
    when = None
    if body.action == "tonight":
        when = _tonight(access.band["time_zone"])
    elif body.action == "at":
        if body.at is None or not now <= body.at <= now + dt.timedelta(days=6):
            raise ApiError(422, "invalid_request", "at: a time within the next 6 days")
        when = body.at
    command_id = await firmware.request_update(
        conn, request.app.state.commands, band_id, release, when
    )
    return {**out, "command_id": command_id, "scheduled_for": when}
