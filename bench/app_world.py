"""A populated companion app on a throwaway database, for the page-load bench and the
screenshots: a family (Ann owns two wearers with a week of data, Bo is their
caregiver; Grandma Li's band is offered a firmware update), and a care home whose staff
member sees ``wearers`` wearers with battery readings and a few open alerts. The API is
served in this process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import psycopg

from api.security.passwords import hash_password
from api.server import serve_api
from bandhub.contracts import dfu
from bandhub.settings import Settings
from bench.throwaway import throwaway_db
from ingest.rollups import refresh_rollups
from stack.ports import free_port

PASSWORD = "correct horse battery staple"
OWNER, CAREGIVER, STAFF = "ann@example.com", "bo@example.com", "staff@example.com"


@dataclass
class World:
    base_url: str
    password: str = PASSWORD
    owner: str = OWNER
    caregiver: str = CAREGIVER
    staff: str = STAFF


def _account(conn: psycopg.Connection, email: str, name: str, hashed: str) -> int:
    return conn.execute(
        "INSERT INTO accounts (email, password_hash, display_name, email_verified_at)"
        " VALUES (%s, %s, %s, now()) RETURNING id",
        (email, hashed, name),
    ).fetchone()[0]


def _days(conn: psycopg.Connection, band_id: str, first: dt.datetime, days: int, seed: int) -> None:
    """Minute epochs and heart rate up to now: nights 23:00-06:30 (RR for HRV), walks."""
    epochs, hr = [], []
    now = dt.datetime.now(dt.UTC)
    for k in range(days * 1440):
        t = first + dt.timedelta(minutes=k)
        if t > now:
            break
        minute = (t.hour * 60 + t.minute + seed * 7) % 1440
        night = minute >= 23 * 60 or minute < 6 * 60 + 30
        walk = not night and (minute // 20 + seed + t.day) % 9 == 0
        if night:
            bpm = 54 + 4 * math.sin(k / 90) + seed % 3
            steps, count, enmo, rr = 0, 4, 2, [1050.0, 1110.0, 1080.0]
        elif walk:
            bpm = 104 + 8 * math.sin(k / 13) + seed % 5
            steps, count, enmo, rr = 108, 3200, 190, [560.0, 590.0, 575.0]
        else:
            bpm = 72 + 6 * math.sin(k / 40)
            steps, count, enmo, rr = 6 if minute % 5 == 0 else 0, 50, 25, []
        epochs.append((band_id, k, t, steps, count, enmo, round(bpm)))
        hr.append((band_id, k, t, round(bpm), rr))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO epochs VALUES (%s, %s, %s, %s, %s, %s, %s, true, now())", epochs
        )
        cur.executemany("INSERT INTO hr VALUES (%s, %s, %s, %s, %s, true, now())", hr)


NOTES_EN = (
    "Longer battery life: about a day more between charges.\n"
    "Falls are told to your contacts 2 s sooner."
)
NOTES_ZH = "续航更长：每次充电可多用约一天。\n跌倒后提前 2 秒通知紧急联系人。"


def _firmware_offer(conn: psycopg.Connection, band_id: str) -> None:
    """The band runs 1.0.0 and version 1.1.0 is rolled out to all: the app offers it."""
    now = dt.datetime.now(dt.UTC).timestamp()
    status = {"v": 1, "band_id": band_id, "gateway_id": "gw-home", "connected": True,
              "at": now, "model": "BH-1", "firmware": "1.0.0"}  # fmt: skip
    conn.execute(
        "INSERT INTO band_status (band_id, gateway_id, status) VALUES (%s, 'gw-home', %s)",
        (band_id, json.dumps(status)),
    )
    image = dfu.build_image(dfu.ImageHeader("BH-1", "1.1.0", 0), bytes(46 * 1024))
    conn.execute(
        "INSERT INTO firmware_releases (model, version, version_key, notes_en, notes_zh, image,"
        " size, sha256, signature, rollout) VALUES ('BH-1', '1.1.0', '{1,1,0}', %s, %s, %s, %s,"
        " %s, %s, 'all') ON CONFLICT DO NOTHING",
        (NOTES_EN, NOTES_ZH, image, len(image), dfu.sha256(image), bytes(64)),
    )


def seed(url: str, wearers: int) -> None:
    hashed = hash_password(PASSWORD)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - dt.timedelta(days=7)
    with psycopg.connect(url) as conn:
        ann = _account(conn, OWNER, "Ann", hashed)
        bo = _account(conn, CAREGIVER, "Bo", hashed)
        staff = _account(conn, STAFF, "Mia (Sunrise Care)", hashed)
        for band, name, year, height, weight, sex in [
            ("BH-0001", "Grandma Li", 1948, 158, 54, "female"),
            ("BH-0002", "Grandpa Wu", 1946, 170, 68, "male"),
        ]:
            conn.execute(
                "INSERT INTO bands (band_id, name, owner_id, claimed_at, last_seen, birth_year,"
                " height_cm, weight_kg, sex, time_zone) VALUES (%s, %s, %s, now(), now(), %s, %s,"
                " %s, %s, 'UTC')",
                (band, name, ann, year, height, weight, sex),
            )
            _days(conn, band, first, 8, int(band[-1]))
            conn.execute(
                "INSERT INTO battery SELECT %s, g, now() - make_interval(hours => g),"
                " 95 - g / 3, now() FROM generate_series(0, 160) g",
                (band,),
            )
            conn.execute(
                "INSERT INTO shares (band_id, email, role, scopes, invited_by, expires_at,"
                " account_id, accepted_at) VALUES (%s, %s, 'caregiver', '{summaries,alerts}',"
                " %s, now() + interval '7 days', %s, now())",
                (band, CAREGIVER, ann, bo),
            )
        _firmware_offer(conn, "BH-0001")
        conn.execute(
            "INSERT INTO contacts (band_id, name, channel, address, secret, position) VALUES"
            " ('BH-0001', 'Bo', 'email', 'bo@example.com', '', 0),"
            " ('BH-0001', 'Dr Chen (clinic)', 'email', 'clinic@example.org', '', 1)"
        )
        monday = (today - dt.timedelta(days=today.weekday())).date()
        challenge = conn.execute(
            "INSERT INTO challenges (name, created_by, first_day, last_day)"
            " VALUES ('Family step week', %s, %s, %s) RETURNING id",
            (ann, monday, monday + dt.timedelta(days=6)),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO challenge_bands VALUES (%s, 'BH-0001'), (%s, 'BH-0002')",
            (challenge, challenge),
        )
        org = conn.execute(
            "INSERT INTO organisations (name) VALUES ('Sunrise Care') RETURNING id"
        ).fetchone()[0]
        conn.execute("INSERT INTO org_members VALUES (%s, %s, 'staff')", (org, staff))
        ids = [f"BH-{1001 + k}" for k in range(wearers)]
        conn.execute(
            "INSERT INTO bands (band_id, name, org_id, last_seen)"
            " SELECT id, 'Resident ' || (row_number() OVER ()), %s,"
            " now() - make_interval(mins => (row_number() OVER ())::int * 3 %% 400)"
            " FROM unnest(%s::text[]) id",
            (org, ids),
        )
        conn.execute(
            "INSERT INTO battery SELECT id, 0, now() - interval '10 minutes',"
            " 5 + (row_number() OVER ())::int * 7 %% 95, now() FROM unnest(%s::text[]) id",
            (ids,),
        )
        conn.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
            " SELECT id, 'fall', 'dispatched', now(), now() FROM unnest(%s::text[]) id",
            (ids[:3],),
        )
    with psycopg.connect(url) as conn:
        for band in ("BH-0001", "BH-0002"):
            refresh_rollups(conn, band, first, today + dt.timedelta(days=1))


@asynccontextmanager
async def app_world(wearers: int = 200) -> AsyncIterator[World]:
    with throwaway_db() as url:
        seed(url, wearers)
        settings = Settings(
            database_url=url, api_port=free_port(), api_expensive_per_min=100_000, _env_file=None
        )
        stop = asyncio.Event()
        task = asyncio.create_task(serve_api(settings, stop))
        base = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(200):
                try:
                    await http.get("/openapi.json")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        try:
            yield World(base)
        finally:
            stop.set()
            await task
