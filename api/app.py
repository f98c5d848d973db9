"""FastAPI application: bands, contacts, daily summaries, heart-rate series, alerts."""

import datetime as dt
import json
import re
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Query
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field, HttpUrl, model_validator

from alerts import links
from alerts import store as alert_store
from analytics import daily
from api.errors import ApiError, install
from bandhub import claims
from bandhub.contracts.messages import BAND_ID_PATTERN
from bandhub.settings import Settings


async def fetch_one(conn: AsyncConnection, sql: str, params: tuple | dict = ()) -> dict | None:
    """One row (a dict) of ``sql``, or None: psycopg's execute-then-fetch in one call."""
    return await (await conn.execute(sql, params)).fetchone()


async def fetch_all(conn: AsyncConnection, sql: str, params: tuple | dict = ()) -> list[dict]:
    return await (await conn.execute(sql, params)).fetchall()


_RESOLUTIONS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}


def _utc(seconds: float | None) -> str | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


async def _day_hrv(
    conn: AsyncConnection,
    band_id: str,
    sleep: daily.DaySleep,
    day_start: dt.datetime,
    day_end: dt.datetime,
) -> dict | None:
    """HRV from the band's RR intervals in the night (the usual nightly figure, at rest),
    or over the whole day when the day has no night's sleep."""
    night = daily.night(sleep)
    if night is not None:
        period = "sleep"
        start, end = (dt.datetime.fromtimestamp(s, dt.UTC) for s in night)
    else:
        period, start, end = "day", day_start, day_end
    rows = await fetch_all(
        conn,
        "SELECT rr_ms FROM hr WHERE band_id = %s AND t >= %s AND t < %s"
        " AND cardinality(rr_ms) > 0 ORDER BY t",
        (band_id, start, end),
    )
    result = daily.day_hrv([r["rr_ms"] for r in rows])
    if result is None:
        return None
    return {
        "period": period,
        "rmssd_ms": result.rmssd_ms,
        "sdnn_ms": result.sdnn_ms,
        "mean_nn_ms": result.mean_nn_ms,
        "pnn50_pct": result.pnn50_pct,
        "intervals": result.n_intervals,
        "removed": result.n_artefacts + result.n_ectopic,
    }


class BandIn(BaseModel):
    band_id: Annotated[str, Field(pattern=BAND_ID_PATTERN)]
    name: Annotated[str, Field(max_length=200)] = ""


class ContactIn(BaseModel):
    """A webhook contact needs an http(s) URL and a signing secret; e-mail a mailbox."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Literal["webhook", "email"] = "webhook"
    url: HttpUrl | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None
    position: int = 0
    quiet_start: dt.time | None = Field(None, description="UTC; delays non-fall alerts only")
    quiet_end: dt.time | None = None

    @model_validator(mode="after")
    def _address_fits_channel(self) -> "ContactIn":
        if self.channel == "webhook" and (self.url is None or self.secret is None):
            raise ValueError("a webhook contact needs url and secret")
        if self.channel == "email" and self.email is None:
            raise ValueError("an email contact needs email")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end")
        return self

    @property
    def address(self) -> str:
        return str(self.url) if self.channel == "webhook" else str(self.email)


class BandSettingsIn(BaseModel):
    fall_countdown_s: Annotated[float, Field(ge=0, le=600)] | None = Field(
        None, description="This wearer's fall countdown; null: the server default"
    )


class ClaimIn(BaseModel):
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    claim_code: Annotated[str, Field(min_length=8, max_length=12)]


class AckIn(BaseModel):
    contact_id: int


class ResolveIn(BaseModel):
    outcome: Literal["ok", "needed_help", "false_alarm"]


def create_app(settings: Settings) -> FastAPI:
    pool = AsyncConnectionPool(
        settings.database_url, min_size=1, max_size=8, open=False, kwargs={"row_factory": dict_row}
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(
        title="bandhub",
        version="0.1.0",
        description="Health summaries and alerts from bandhub wristbands.",
        lifespan=lifespan,
    )
    install(app)

    async def db():
        async with pool.connection() as conn:
            yield conn

    Db = Annotated[AsyncConnection, Depends(db)]

    async def require_band(conn, band_id: str) -> dict:
        row = await fetch_one(conn, "SELECT * FROM bands WHERE band_id = %s", (band_id,))
        if row is None:
            raise ApiError(404, "unknown_band", f"no band {band_id!r}")
        return row

    @app.get("/bands", summary="All bands, with record counts and when they were last seen")
    async def list_bands(conn: Db) -> list[dict]:
        rows = await fetch_all(
            conn,
            "SELECT b.band_id, b.name, b.registered_at, b.last_seen,"
            " (SELECT count(*) FROM hr WHERE hr.band_id = b.band_id)"
            " + (SELECT count(*) FROM epochs e WHERE e.band_id = b.band_id)"
            " + (SELECT count(*) FROM falls f WHERE f.band_id = b.band_id)"
            " + (SELECT count(*) FROM buttons x WHERE x.band_id = b.band_id)"
            " + (SELECT count(*) FROM battery y WHERE y.band_id = b.band_id) AS records"
            " FROM bands b ORDER BY b.band_id",
        )
        return rows

    @app.post("/bands", status_code=201, summary="Register a band")
    async def add_band(band: BandIn, conn: Db) -> dict:
        row = await fetch_one(
            conn,
            "INSERT INTO bands (band_id, name) VALUES (%s, %s) ON CONFLICT (band_id)"
            " DO UPDATE SET name = EXCLUDED.name RETURNING band_id, name, registered_at",
            (band.band_id, band.name),
        )
        return row

    @app.post("/bands/{band_id}/contacts", status_code=201, summary="Add an emergency contact")
    async def add_contact(band_id: str, contact: ContactIn, conn: Db) -> dict:
        await require_band(conn, band_id)
        row = await fetch_one(
            conn,
            "INSERT INTO contacts (band_id, name, channel, address, secret, position,"
            " quiet_start, quiet_end) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id, band_id, name, channel, address, position, quiet_start, quiet_end",
            (
                band_id,
                contact.name,
                contact.channel,
                contact.address,
                contact.secret or "",
                contact.position,
                contact.quiet_start,
                contact.quiet_end,
            ),
        )
        return row

    @app.post("/bands/{band_id}/claim", summary="Register a band to its owner with its claim code")
    async def claim_band(band_id: str, body: ClaimIn, conn: Db) -> dict:
        if not re.fullmatch(BAND_ID_PATTERN, band_id):
            raise ApiError(422, "bad_band_id", f"{band_id!r} is not a band id")
        if not claims.valid(settings.claim_secret, band_id, body.claim_code):
            raise ApiError(403, "bad_claim_code", "the claim code does not match this band")
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING", (band_id,)
            )
            band = await fetch_one(
                conn, "SELECT owner FROM bands WHERE band_id = %s FOR UPDATE", (band_id,)
            )
            if band["owner"] not in (None, body.owner):
                raise ApiError(409, "claimed", f"band {band_id} belongs to someone else")
            return await fetch_one(
                conn,
                "UPDATE bands SET owner = %s, claimed_at = COALESCE(claimed_at, now())"
                " WHERE band_id = %s RETURNING band_id, name, owner, claimed_at",
                (body.owner, band_id),
            )

    @app.patch("/bands/{band_id}", summary="A wearer's settings (fall countdown)")
    async def band_settings(band_id: str, body: BandSettingsIn, conn: Db) -> dict:
        await require_band(conn, band_id)
        return await fetch_one(
            conn,
            "UPDATE bands SET fall_countdown_s = %s WHERE band_id = %s"
            " RETURNING band_id, name, fall_countdown_s",
            (body.fall_countdown_s, band_id),
        )

    @app.get("/bands/{band_id}/diagnostics", summary="Connection, battery and clock, for support")
    async def diagnostics(band_id: str, conn: Db, days: int = Query(7, ge=1, le=90)) -> dict:
        band = await require_band(conn, band_id)
        status = await fetch_one(
            conn,
            "SELECT gateway_id, status, updated_at FROM band_status WHERE band_id = %s",
            (band_id,),
        )
        battery = await fetch_all(
            conn,
            "SELECT date_trunc('hour', t) AS t, min(level) AS level FROM battery"
            " WHERE band_id = %s AND t > now() - make_interval(days => %s)"
            " GROUP BY 1 ORDER BY 1",
            (band_id, days),
        )
        return {
            "band_id": band_id,
            "last_seen": band["last_seen"],
            "gateway": status["gateway_id"] if status else band["last_gateway_id"],
            "link": status["status"] if status else None,
            "link_reported_at": status["updated_at"] if status else None,
            "battery_hourly": battery,
        }

    @app.get("/bands/{band_id}/contacts", summary="A band's emergency contacts")
    async def list_contacts(band_id: str, conn: Db) -> list[dict]:
        await require_band(conn, band_id)
        return await fetch_all(
            conn,
            "SELECT id, band_id, name, channel, address, position, quiet_start, quiet_end"
            " FROM contacts WHERE band_id = %s ORDER BY position, id",
            (band_id,),
        )

    @app.get("/bands/{band_id}/summary", summary="Daily summary for one UTC day")
    async def summary(band_id: str, date: dt.date, conn: Db) -> dict:
        await require_band(conn, band_id)
        start = dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)
        end = start + dt.timedelta(days=1)
        epochs = await fetch_all(
            conn,
            "SELECT t, steps, activity_count, enmo_mg, hr_mean, worn FROM epochs"
            " WHERE band_id = %s AND t >= %s AND t < %s ORDER BY t",
            (band_id, start, end),
        )
        bpm = await fetch_all(
            conn,
            "SELECT bpm FROM hr WHERE band_id = %s AND t >= %s AND t < %s",
            (band_id, start, end),
        )
        falls = await fetch_one(
            conn,
            "SELECT count(*) AS n FROM falls WHERE band_id = %s AND t >= %s AND t < %s"
            " AND confirmed",
            (band_id, start, end),
        )
        activity = np.array([e["activity_count"] for e in epochs], dtype=float)
        worn = np.array([e["worn"] for e in epochs], dtype=bool)
        hr_mean = np.array(
            [np.nan if e["hr_mean"] is None else e["hr_mean"] for e in epochs], dtype=float
        )
        enmo_g = np.array([e["enmo_mg"] for e in epochs], dtype=float) / 1000.0
        asleep = daily.asleep_minutes(enmo_g, worn)
        t_s = np.array([e["t"].timestamp() for e in epochs], dtype=float)
        sleep = daily.day_sleep(t_s, asleep, hr_mean, enmo_g)
        stats = daily.heart_rate_stats(np.array([r["bpm"] for r in bpm]))
        hrv = await _day_hrv(conn, band_id, sleep, start, end)
        return {
            "band_id": band_id,
            "date": date.isoformat(),
            "steps": int(sum(e["steps"] for e in epochs)),
            "heart_rate": {
                "min": stats.min,
                "avg": stats.avg,
                "max": stats.max,
                "resting": daily.resting_heart_rate(hr_mean, activity, asleep),
                "unit": "bpm",
            },
            "sleep_minutes": sleep.minutes,
            "sleep": {
                "minutes": sleep.minutes,
                "start": _utc(sleep.onset_s),
                "end": _utc(sleep.end_s),
                "efficiency": sleep.efficiency,
                "waso_min": sleep.waso_min,
                "awakenings": sleep.awakenings,
                "stages_estimate_min": sleep.stage_minutes,
            },
            "hrv": hrv,
            "falls": falls["n"],
            "coverage": round(int(worn.sum()) / 1440, 4),
        }

    @app.get("/bands/{band_id}/hr", summary="Heart-rate series, averaged per resolution bucket")
    async def hr_series(
        band_id: str,
        start: dt.datetime,
        end: dt.datetime,
        conn: Db,
        resolution: Annotated[Literal["1m", "5m", "15m", "1h"], Query()] = "5m",
    ) -> dict:
        await require_band(conn, band_id)
        if end <= start:
            raise ApiError(422, "invalid_request", "end must be after start")
        if (end - start) > dt.timedelta(days=31):
            raise ApiError(422, "invalid_request", "at most 31 days per request")
        step = _RESOLUTIONS[resolution]
        rows = await fetch_all(
            conn,
            "SELECT date_bin(make_interval(secs => %s), t, TIMESTAMPTZ '2000-01-01') AS t,"
            " round(avg(bpm)::numeric, 1)::float AS bpm, min(bpm) AS min, max(bpm) AS max"
            " FROM hr WHERE band_id = %s AND t >= %s AND t < %s GROUP BY 1 ORDER BY 1",
            (step, band_id, start, end),
        )
        return {"band_id": band_id, "resolution": resolution, "points": rows}

    @app.get("/alerts", summary="Alerts, newest first")
    async def list_alerts(conn: Db, band_id: str | None = None, limit: int = Query(100, le=1000)):
        return await fetch_all(
            conn,
            "SELECT id, band_id, kind, state, event_t, confidence, created_at, dispatch_at"
            " FROM alerts WHERE %s::text IS NULL OR band_id = %s ORDER BY id DESC LIMIT %s",
            (band_id, band_id, limit),
        )

    @app.get(
        "/alerts/stream",
        summary="Live alert events (Server-Sent Events) for the companion app",
        response_class=StreamingResponse,
    )
    async def alert_stream(band_id: str | None = None) -> StreamingResponse:
        async def events():
            async with await AsyncConnection.connect(
                settings.database_url, autocommit=True
            ) as listener:
                await listener.execute(f"LISTEN {alert_store.EVENTS_CHANNEL}")
                yield ": connected\n\n"
                while True:
                    async for note in listener.notifies(timeout=15):
                        if band_id is None or json.loads(note.payload)["band_id"] == band_id:
                            yield f"event: alert\ndata: {note.payload}\n\n"
                    yield ": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/alerts/{alert_id}", summary="One alert with its delivery log and timeline")
    async def get_alert(alert_id: int, conn: Db) -> dict:
        alert = await fetch_one(conn, "SELECT * FROM alerts WHERE id = %s", (alert_id,))
        if alert is None:
            raise ApiError(404, "unknown_alert", f"no alert {alert_id}")
        alert["deliveries"] = await fetch_all(
            conn,
            "SELECT d.id, d.kind, d.webhook_id, c.name AS contact, d.state, d.attempts,"
            " d.last_error, d.delivered_at FROM deliveries d JOIN contacts c"
            " ON c.id = d.contact_id WHERE d.alert_id = %s ORDER BY d.id",
            (alert_id,),
        )
        alert["timeline"] = await fetch_all(
            conn,
            "SELECT at, event, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
            (alert_id,),
        )
        return alert

    @app.post("/alerts/{alert_id}/ack", summary="A contact takes charge; escalation stops")
    async def ack_alert(alert_id: int, ack: AckIn, conn: Db) -> dict:
        await alert_store.acknowledge(conn, alert_id, ack.contact_id)
        return await get_alert(alert_id, conn)

    @app.get(
        "/alerts/{alert_id}/ack-link",
        summary="One-click acknowledgement from the signed link in an alert message",
    )
    async def ack_link(alert_id: int, contact: int, sig: str, conn: Db) -> dict:
        key = await fetch_one(conn, "SELECT value FROM server_keys WHERE name = 'ack_link'")
        if not links.valid(key["value"], alert_id, contact, sig):
            raise ApiError(403, "bad_signature", "this acknowledgement link is not valid")
        await alert_store.acknowledge(conn, alert_id, contact)
        alert = await get_alert(alert_id, conn)
        return {
            "message": "Thank you: the other contacts are told that you are handling it.",
            "alert_id": alert_id,
            "state": alert["state"],
        }

    @app.post("/alerts/{alert_id}/resolve", summary="Close an alert with its outcome")
    async def resolve_alert(alert_id: int, body: ResolveIn, conn: Db) -> dict:
        await alert_store.resolve(conn, alert_id, body.outcome)
        return await get_alert(alert_id, conn)

    @app.get("/dead-letters", summary="Rejected messages with their reasons")
    async def dead_letters(conn: Db, limit: int = Query(100, le=1000)) -> list[dict]:
        rows = await fetch_all(
            conn,
            "SELECT id, received_at, topic, band_id, stream, reason, payload"
            " FROM dead_letters ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        for r in rows:
            r["payload"] = bytes(r["payload"]).decode("utf-8", errors="replace")
        return rows

    return app
