"""What a band measured: the daily summary and the heart-rate series."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request

from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.schemas import DailySummary, HrSeries, IsoDate, Trends
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand
from api.security.throttle import Expensive
from api.series import hr_points
from api.summary import daily_summary, local_today
from api.trends import PERIOD_DAYS, compute_summaries, trends

router = APIRouter(prefix="/bands/{band_id}", tags=["summaries"], dependencies=[Expensive])
Reader = Annotated[BandAccess, Depends(OnBand(Scope.SUMMARIES))]

_RESOLUTIONS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
_MAX_SERIES = dt.timedelta(days=31)


# a day's instants, and the night before it, must be times Python can hold
_FIRST_DAY, _LAST_DAY = dt.date(1900, 1, 1), dt.date(9999, 12, 28)


def _check_day(name: str, day: dt.date) -> None:
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise ApiError(422, "invalid_request", f"{name}: a day from {_FIRST_DAY} to {_LAST_DAY}")


@router.get(
    "/summary",
    response_model=DailySummary,
    summary="Daily summary for one of the wearer's local days (default: local today)",
    responses=error_responses(401, 403, 404, 422, 429),
)
async def summary(band: Reader, conn: DbConn, date: IsoDate | None = None) -> dict:
    day = date if date is not None else await local_today(conn, band.band_id)
    _check_day("date", day)
    return await daily_summary(conn, band.band_id, day)


@router.get(
    "/trends",
    response_model=Trends,
    summary="Per local day over a week, month (30 days) or year (365 days) up to end",
    responses=error_responses(401, 403, 404, 422, 429),
)
async def band_trends(
    band: Reader,
    conn: DbConn,
    settings: SettingsDep,
    request: Request,
    tasks: BackgroundTasks,
    period: Annotated[Literal["week", "month", "year"], Query()] = "week",
    end: Annotated[IsoDate | None, Query(description="last day (default: local today)")] = None,
) -> dict:
    last = end if end is not None else await local_today(conn, band.band_id)
    _check_day("end", last)
    _check_day("end", last - dt.timedelta(days=PERIOD_DAYS[period] - 1))
    answer, stale = await trends(conn, band.band_id, period, last)
    if stale[: settings.trends_compute_days]:  # for the next read, once this one has answered
        tasks.add_task(
            compute_summaries,
            request.app.state.pool,
            band.band_id,
            stale[: settings.trends_compute_days],
        )
    return answer


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
