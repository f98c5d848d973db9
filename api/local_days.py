"""The wearer's local days in Python, as migration 022's SQL functions define them
(``band_day_start``), for reads that need many days' intervals at once (trends): a
zone's conversions here cost microseconds, the SQL function's tens of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from api.db import fetch_all


@dataclass(frozen=True)
class ZoneSpell:
    valid_from: dt.datetime | None  # None: from the beginning
    zone: str
    day_floor: dt.date | None  # the local day in progress when it began


async def zone_history(conn: AsyncConnection, band_id: str) -> list[ZoneSpell]:
    rows = await fetch_all(
        conn,
        "SELECT CASE WHEN valid_from = '-infinity' THEN NULL ELSE valid_from END AS v, zone,"
        " day_floor FROM band_time_zones WHERE band_id = %s ORDER BY valid_from",
        (band_id,),
    )
    return [ZoneSpell(r["v"], r["zone"], r["day_floor"]) for r in rows]


def zone_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The first instant whose date in ``zone`` is ``day`` or later (fold 0: the first
    of two midnights, or the end of a gap at midnight)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def day_start(history: list[ZoneSpell], day: dt.date) -> dt.datetime:
    """The first instant of the local ``day`` (its end is the start of the next)."""
    for i, spell in enumerate(history):
        valid_to = history[i + 1].valid_from if i + 1 < len(history) else None
        if spell.valid_from is not None and (
            max(spell.valid_from.astimezone(ZoneInfo(spell.zone)).date(),
                spell.day_floor or dt.date.min) >= day
        ):  # fmt: skip
            start = spell.valid_from
        else:
            start = zone_midnight(day, spell.zone)
            if spell.valid_from is not None:
                start = max(start, spell.valid_from)
        if valid_to is None or start < valid_to:
            return start
    return zone_midnight(day, "UTC")


def day_hours(history: list[ZoneSpell], day: dt.date) -> float:
    span = day_start(history, day + dt.timedelta(days=1)) - day_start(history, day)
    return round(span / dt.timedelta(hours=1), 2)
