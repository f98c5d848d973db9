"""What Home Assistant should show now: one row per exposed band, read from the
database in one query. Health values are not even read for a band whose owner has
not consented to share them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from bandhub.contracts.home_assistant import (
    AVAILABLE,
    DEFAULT_MODEL,
    NOT_AVAILABLE,
    OFF,
    ON,
    DeviceInfo,
)

# An alert still open, as the app shows it (api/webapp/static/js/alerts.js).
OPEN_ALERT_STATES = ("pending", "dispatched", "acknowledged")

# A band is shown while it is exposed, claimed and (with gateway logins) paired: bound
# to a registered gateway that is not revoked.
_SHOWN = """b.owner_id IS NOT NULL
  AND (NOT %(paired_only)s OR EXISTS (
        SELECT 1 FROM gateway_bands gb JOIN gateways gw USING (gateway_id)
        WHERE gb.band_id = b.band_id AND gw.registered_at IS NOT NULL
          AND gw.revoked_at IS NULL))"""

_QUERY = f"""
SELECT b.band_id, b.name, b.last_seen, e.health,
       s.status->>'firmware' AS firmware, s.status->>'model' AS model,
       coalesce((s.status->>'connected')::boolean, false)
         AND coalesce(g.state, 'online') = 'online' AS online,
       CASE WHEN e.health THEN
         (SELECT bpm FROM hr_last(b.band_id, 'infinity')) END
         AS heart_rate,
       CASE WHEN e.health THEN
         (SELECT coalesce(sum(steps), 0) FROM epochs ep WHERE ep.band_id = b.band_id
           AND ep.t >= (date_trunc('day', now() AT TIME ZONE b.time_zone)
                        AT TIME ZONE b.time_zone))
         END AS steps_today,
       coalesce((SELECT level FROM battery WHERE battery.band_id = b.band_id
                  ORDER BY t DESC LIMIT 1),
                (s.status->>'battery_percent')::int) AS battery,
       (SELECT worn FROM epochs ep WHERE ep.band_id = b.band_id ORDER BY t DESC LIMIT 1)
         AS worn,
       EXISTS (SELECT 1 FROM alerts a WHERE a.band_id = b.band_id
                 AND a.kind IN ('fall', 'sos') AND a.state = ANY(%(open)s)) AS fall_sos
FROM ha_exposure e
JOIN bands b USING (band_id)
LEFT JOIN band_status s USING (band_id)
LEFT JOIN gateways g ON g.gateway_id = s.gateway_id
WHERE {_SHOWN}
ORDER BY b.band_id
"""


@dataclass(frozen=True)
class BandView:
    """One exposed band: its device, whether it is online, and each entity's state
    payload (None: nothing known yet, nothing published)."""

    device: DeviceInfo
    health: bool
    online: bool
    states: dict[str, str | None]

    @property
    def band_id(self) -> str:
        return self.device.band_id

    @property
    def availability(self) -> str:
        return AVAILABLE if self.online else NOT_AVAILABLE


def _number(value: int | None) -> str | None:
    return None if value is None else str(int(value))


def _flag(value: bool | None) -> str | None:
    return None if value is None else (ON if value else OFF)


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def exposed_bands(conn: psycopg.Connection, *, paired_only: bool) -> list[BandView]:
    """The bands to show. ``paired_only`` (with gateway logins on): a band bound to no
    registered gateway any more (unpaired) is not shown either."""
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(_QUERY, {"open": list(OPEN_ALERT_STATES), "paired_only": paired_only})
    views = []
    for r in cur.fetchall():
        model = r["model"] or DEFAULT_MODEL
        device = DeviceInfo(r["band_id"], r["name"], model, r["firmware"] or "")
        states = {
            "battery": _number(r["battery"]),
            "last_sync": _time(r["last_seen"]),
            "worn": _flag(r["worn"]),
            "fall_sos": _flag(r["fall_sos"]),
        }
        if r["health"]:
            states["heart_rate"] = _number(r["heart_rate"])
            states["steps_today"] = _number(r["steps_today"])
        views.append(BandView(device, r["health"], r["online"], states))
    return views


def still_exposed(conn: psycopg.Connection, band_id: str, *, paired_only: bool) -> bool:
    """Whether a "find my band" press for this band may go through (checked per press)."""
    row = conn.execute(
        "SELECT 1 FROM ha_exposure e JOIN bands b USING (band_id)"
        f" WHERE b.band_id = %(band)s AND {_SHOWN}",
        {"band": band_id, "paired_only": paired_only},
    ).fetchone()
    return row is not None
