"""What a band measured: the daily summary and the heart-rate series."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import DbConn
from api.errors import ApiError, error_responses
from api.schemas import DailySummary, HrSeries, IsoDate
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand
from api.security.throttle import Expensive
from api.series import hr_points
from api.summary import daily_summary

router = APIRouter(prefix="/bands/{band_id}", tags=["summaries"], dependencies=[Expensive])
Reader = Annotated[BandAccess, Depends(OnBand(Scope.SUMMARIES))]

_RESOLUTIONS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
_MAX_SERIES = dt.timedelta(days=31)


@router.get(
    "/summary",
    response_model=DailySummary,
    summary="Daily summary for one UTC day",
    responses=error_responses(401, 403, 404, 422, 429),
)
async def summary(band: Reader, date: IsoDate, conn: DbConn) -> dict:
    if date == dt.date.max:  # its end, the next midnight, is past what a date can be
        raise ApiError(422, "invalid_request", f"date: at most {date.max - dt.timedelta(1)}")
    return await daily_summary(conn, band.band_id, date)


def _as_utc(t: dt.datetime) -> dt.datetime:
    """A time without an offset is UTC, as every time in this API."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


@router.get(
    "/hr",
    response_model=HrSeries,
    summary="Heart-rate series, averaged per resolution bucket",
    responses=error_responses(401, 403, 404, 422, 429),
)
async def hr_series(
    band: Reader,
    start: dt.datetime,
    end: dt.datetime,
    conn: DbConn,
    resolution: Annotated[Literal["1m", "5m", "15m", "1h"], Query()] = "5m",
) -> dict:
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        raise ApiError(422, "invalid_request", "end must be after start")
    if end - start > _MAX_SERIES:
        raise ApiError(422, "invalid_request", "at most 31 days per request")
    rows = await hr_points(conn, band.band_id, start, end, _RESOLUTIONS[resolution])
    return {"band_id": band.band_id, "resolution": resolution, "points": rows}
