"""The wearer's profile and what the daily summary derives from it (distance, energy,
active minutes, heart-rate zones), and the night as a hypnogram."""

from __future__ import annotations

import datetime as dt
import itertools

from tests.days import DAY, WALK_MINUTES, WALK_STEPS_PER_MIN, seed_day

PROFILE = {"height_cm": 165, "weight_kg": 60, "birth_year": 1956, "sex": "female"}


async def test_the_profile_is_kept_read_back_and_cleared(api, owner, settings):
    owner.own(settings.database_url, "BH-0001")
    r = await owner.client.patch("/bands/BH-0001", json={**PROFILE, "step_goal": 6000})
    assert r.status_code == 200, r.text
    got = (await owner.client.get("/bands/BH-0001")).json()
    assert {k: got[k] for k in PROFILE} == PROFILE and got["step_goal"] == 6000
    assert got["sleep_goal_min"] is None and got["time_zone"] == "UTC"
    future = await owner.client.patch("/bands/BH-0001", json={"birth_year": 2100})
    assert future.status_code == 422
    await owner.client.patch("/bands/BH-0001", json={"weight_kg": None})
    got = (await owner.client.get("/bands/BH-0001")).json()
    assert got["weight_kg"] is None and got["height_cm"] == 165  # only what was named


async def test_the_day_with_and_without_a_profile(api, owner, settings):
    seed_day(settings.database_url)
    owner.own(settings.database_url, "BH-0001")
    bare = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    assert bare["activity"]["active_minutes"] == WALK_MINUTES  # the walk: 105 steps a minute
    assert bare["activity"]["distance_m"] is None and bare["activity"]["total_kcal"] is None
    assert bare["hr_zones"] is None  # no age, no maximal heart rate

    await owner.client.patch("/bands/BH-0001", json=PROFILE)
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    steps = WALK_MINUTES * WALK_STEPS_PER_MIN
    assert s["steps"] == steps
    activity = s["activity"]
    assert activity["distance_m"] == round(steps * 1.65 * 0.413)  # a woman's stride
    # Keytel (women) on each walking minute (95-101 bpm), less the resting share (BMR
    # of Mifflin-St Jeor); a 70-year-old of 60 kg; no steps outside those minutes
    bmr = 10 * 60 + 6.25 * 165 - 5 * 70 - 161
    walk_hr = [95 + m % 7 for m in range(360, 600)]
    kj = sum(-20.4022 + 0.4472 * hr - 0.1263 * 60 + 0.074 * 70 for hr in walk_hr)
    assert activity["active_kcal"] == round(kj / 4.184 - bmr / 1440 * WALK_MINUTES)
    assert activity["resting_kcal"] == round(bmr)  # a past day: all of it
    assert activity["total_kcal"] == activity["active_kcal"] + activity["resting_kcal"]
    zones = s["hr_zones"]
    assert zones["max_bpm"] == 208 - 0.7 * 70  # Tanaka: 159
    minutes = {z["zone"]: z["minutes"] for z in zones["zones"]}
    assert minutes == {1: 0, 2: WALK_MINUTES, 3: 0, 4: 0, 5: 0}  # 60-70 %: 95-110 bpm
    assert [z["low_bpm"] for z in zones["zones"]] == [80, 95, 111, 127, 143]


async def test_the_night_as_a_hypnogram(api, owner, settings):
    seed_day(settings.database_url)
    owner.own(settings.database_url, "BH-0001")
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    sleep = s["sleep"]
    runs = sleep["hypnogram"]
    assert runs and runs[0]["start"] == sleep["start"] and runs[-1]["end"] == sleep["end"]
    for before, after in itertools.pairwise(runs):
        assert before["end"] == after["start"] and before["stage"] != after["stage"]
    length: dict[str, float] = {}
    for run in runs:
        span = dt.datetime.fromisoformat(run["end"]) - dt.datetime.fromisoformat(run["start"])
        length[run["stage"]] = length.get(run["stage"], 0) + span.total_seconds() / 60
    for stage in ("deep", "light", "rem"):
        assert length.get(stage, 0) == sleep["stages_estimate_min"][stage]
    assert length.get("wake", 0) == sleep["waso_min"]


async def test_goals_and_the_sleep_recommendation_follow_the_profile(api, owner, settings):
    seed_day(settings.database_url)
    owner.own(settings.database_url, "BH-0001")
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    assert s["sleep"]["recommended"]["age_group"] == "adult"  # no birth year yet
    assert s["goals"] == {"steps": 8000, "steps_met": True, "sleep_min": 420, "sleep_met": False}
    await owner.client.patch(
        "/bands/BH-0001", json={"birth_year": 1950, "step_goal": 30000, "sleep_goal_min": 300}
    )
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    assert (s["sleep"]["recommended"]["min_h"], s["sleep"]["recommended"]["max_h"]) == (7, 8)
    assert s["goals"] == {"steps": 30000, "steps_met": False, "sleep_min": 300, "sleep_met": True}
