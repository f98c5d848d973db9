"""Streaks of goals met, and a family's step challenge: its leaderboard is shown only to
those who may see every participant's summaries."""

from __future__ import annotations

import datetime as dt

import psycopg

from ingest.rollups import refresh_rollups
from tests.api.test_sharing import _invitation_code
from tests.people import add_account, sign_in


def _steps(url: str, band_id: str, per_day: dict[dt.date, int]) -> None:
    """One minute of ``steps`` at local noon (UTC bands) on each day, rolled up."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING", (band_id,))
        for i, (day, steps) in enumerate(per_day.items()):
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            conn.execute(
                "INSERT INTO epochs VALUES (%s, %s, %s, %s, 100, 50, 80, true, now())",
                (band_id, i, noon, steps),
            )
    start = dt.datetime.combine(min(per_day), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(max(per_day), dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1)
    with psycopg.connect(url) as conn:
        refresh_rollups(conn, band_id, start, end)


async def test_a_step_streak_counts_back_from_today(api, owner, settings):
    today = dt.datetime.now(dt.UTC).date()
    days = {today - dt.timedelta(days=k): 9000 for k in range(1, 5)}  # four days met
    days[today - dt.timedelta(days=5)] = 100  # a day missed before them
    days |= {today - dt.timedelta(days=k): 9000 for k in range(6, 12)}  # six days met
    _steps(settings.database_url, "BH-0001", days)
    owner.own(settings.database_url, "BH-0001")
    s = (await owner.client.get("/bands/BH-0001/streaks")).json()
    assert s["step_goal"] == 8000 and s["today"] == str(today)
    assert s["steps"] == {"current": 4, "best": 6}  # today, not yet walked, breaks nothing
    await owner.client.patch("/bands/BH-0001", json={"step_goal": 10000})
    s = (await owner.client.get("/bands/BH-0001/streaks")).json()
    assert s["steps"] == {"current": 0, "best": 0}


async def test_a_family_step_challenge_and_who_sees_its_leaderboard(api, owner, settings):
    url = settings.database_url
    _steps(url, "BH-0001", {dt.date(2026, 11, 23): 5000, dt.date(2026, 11, 24): 7000})
    _steps(url, "BH-0002", {dt.date(2026, 11, 23): 9000, dt.date(2026, 11, 30): 99999})
    owner.own(url, "BH-0001", "BH-0002")
    # Bo sees Grandma (BH-0001) only: he may not set up a challenge with BH-0002
    add_account(url, "bo@example.com")
    invite = {"email": "bo@example.com", "role": "family", "scopes": ["summaries"]}
    await owner.client.post("/bands/BH-0001/shares", json=invite)
    bo = await sign_in(str(api.base_url), "bo@example.com")
    bo_headers = {"Authorization": f"Bearer {bo['access_token']}"}
    code = _invitation_code(settings, "BH-0001", "bo@example.com")
    r = await api.post("/invitations/accept", json={"token": code}, headers=bo_headers)
    assert r.status_code == 200, r.text
    week = {"name": "Week walk", "first_day": "2026-11-23", "last_day": "2026-11-29"}
    body = {**week, "with_bands": ["BH-0002"]}
    r = await api.post("/bands/BH-0001/challenges", json=body, headers=bo_headers)
    assert r.status_code == 404

    r = await owner.client.post("/bands/BH-0001/challenges", json=body)
    assert r.status_code == 201, r.text
    board = r.json()["leaderboard"]
    assert [(row["rank"], row["band_id"], row["steps"]) for row in board] == [
        (1, "BH-0001", 12000),
        (2, "BH-0002", 9000),  # the 30th is after the challenge
    ]
    challenge_id = r.json()["id"]
    mine = (await owner.client.get("/bands/BH-0002/challenges")).json()
    assert [c["id"] for c in mine] == [challenge_id]
    # Bo may see BH-0001 but not every participant: neither listed nor shown
    r = await api.get("/bands/BH-0001/challenges", headers=bo_headers)
    assert r.status_code == 200 and r.json() == []
    r = await api.get(f"/bands/BH-0001/challenges/{challenge_id}", headers=bo_headers)
    assert r.status_code == 404 and "BH-0002" not in r.text
    too_long = {**body, "last_day": "2026-12-31"}
    assert (await owner.client.post("/bands/BH-0001/challenges", json=too_long)).status_code == 422


async def test_the_band_list_answers_each_bands_latest_battery(api, owner, settings):
    """The care view's tiles need it for every wearer: one request, not one per band."""
    owner.own(settings.database_url, "BH-0001", "BH-0002")
    with psycopg.connect(settings.database_url) as conn:
        for seq, (hours, level) in enumerate([(3, 80), (1, 64), (2, 70)]):
            conn.execute(
                "INSERT INTO battery VALUES ('BH-0001', %s, now() - make_interval(hours => %s),"
                " %s, now())",
                (seq, hours, level),
            )
    bands = {b["band_id"]: b for b in (await owner.client.get("/bands")).json()}
    assert bands["BH-0001"]["battery_percent"] == 64  # the latest, not the last written
    assert bands["BH-0002"]["battery_percent"] is None
