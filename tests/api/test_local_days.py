"""Days are the wearer's local days: 23 and 25 hours across daylight-saving changes, 24
in a zone without them and in zones half or three quarters of an hour off UTC; the
night belongs to the day of waking; "today" is local; a wearer who travels loses no
data and gets no day twice; trends over a week, a month and a year. All on a real
PostgreSQL, over real HTTP, against sums of the raw records."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import psycopg
import pytest

from api.local_days import ZoneSpell, day_start
from ingest.rollups import refresh_rollups
from tests.e2e.helpers import eventually

BAND = "BH-0001"
MIN = dt.timedelta(minutes=1)


def _steps(t: dt.datetime) -> int:
    """Steps in the minute at ``t``: never periodic in hours, so a day cut an hour or
    half an hour off shows in its total."""
    return 1 + int(t.timestamp() // 60) % 97


def _seed_minutes(url: str, start: dt.datetime, end: dt.datetime, every: int = 1) -> None:
    """Epochs and heart rate every ``every`` minutes in [start, end), awake and walking."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY epochs (band_id, seq, t, steps, activity_count, enmo_mg, hr_mean, worn,"
            " received_at) FROM STDIN"
        ) as copy:
            t, seq = start, 0
            while t < end:
                copy.write_row((BAND, seq, t, _steps(t), 3000, 150, 60 + seq % 40, True, t))
                t, seq = t + every * MIN, seq + 1
        with cur.copy("COPY hr (band_id, seq, t, bpm, received_at) FROM STDIN") as copy:
            t, seq = start, 0
            while t < end:
                copy.write_row((BAND, seq, t, 60 + seq % 40, t))
                t, seq = t + every * MIN, seq + 1


def _raw(url: str, start: dt.datetime, end: dt.datetime) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        steps = conn.execute(
            "SELECT coalesce(sum(steps), 0) FROM epochs WHERE band_id = %s AND t >= %s AND t < %s",
            (BAND, start, end),
        ).fetchone()[0]
        lo, hi = conn.execute(
            "SELECT min(bpm), max(bpm) FROM hr WHERE band_id = %s AND t >= %s AND t < %s",
            (BAND, start, end),
        ).fetchone()
    return steps, lo, hi


def _midnight(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


async def _set_zone(owner, zone: str) -> None:
    r = await owner.client.patch(f"/bands/{BAND}", json={"time_zone": zone})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", dt.date(2026, 3, 29), 23),
        ("Europe/Berlin", dt.date(2026, 10, 25), 25),
        ("America/New_York", dt.date(2026, 3, 8), 23),
        ("America/New_York", dt.date(2026, 11, 1), 25),
        ("Asia/Shanghai", dt.date(2026, 3, 29), 24),
        ("Asia/Kolkata", dt.date(2026, 10, 25), 24),
        ("Asia/Kathmandu", dt.date(2026, 3, 8), 24),
    ],
)
@pytest.mark.parametrize("kept", [True, False], ids=["rollups", "raw"])
async def test_a_day_is_local_midnight_to_local_midnight(owner, settings, zone, day, hours, kept):
    url = settings.database_url
    owner.own(url, BAND)
    await _set_zone(owner, zone)
    around = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    _seed_minutes(url, around - dt.timedelta(days=2), around + dt.timedelta(days=2))
    if kept:  # as ingest keeps them, and recomputed from the raw rows
        with psycopg.connect(url) as conn:
            refresh_rollups(conn, BAND, around - dt.timedelta(days=2), around + dt.timedelta(2))
    start, end = _midnight(day, zone), _midnight(day + dt.timedelta(1), zone)
    assert end - start == dt.timedelta(hours=hours)
    r = await owner.client.get(f"/bands/{BAND}/summary", params={"date": str(day)})
    assert r.status_code == 200, r.text
    s = r.json()
    steps, lo, hi = _raw(url, start, end)
    assert (s["date"], s["time_zone"], s["hours"]) == (str(day), zone, hours)
    assert dt.datetime.fromisoformat(s["start"]) == start
    assert dt.datetime.fromisoformat(s["end"]) == end
    assert s["steps"] == steps
    assert (s["heart_rate"]["min"], s["heart_rate"]["max"]) == (lo, hi)
    assert s["coverage"] == 1.0  # every minute of the 23 or 25 hours worn
    week = await owner.client.get(
        f"/bands/{BAND}/trends", params={"period": "week", "end": str(day + dt.timedelta(1))}
    )
    assert week.status_code == 200, week.text
    by_day = {d["day"]: d for d in week.json()["days"]}
    assert by_day[str(day)]["hours"] == hours
    if kept:  # trends read the rollups: the day and the days around it exact
        assert by_day[str(day)]["steps"] == steps
        for d in (day - dt.timedelta(1), day + dt.timedelta(1)):
            a, b = _midnight(d, zone), _midnight(d + dt.timedelta(1), zone)
            assert by_day[str(d)]["steps"] == _raw(url, a, b)[0]


def _seed_nights(url: str, zone: str, first: dt.date, nights: list[tuple[str, str]]) -> None:
    """From ``first`` on, a day awake and walking, then each night asleep from the local
    time to the local time of the next morning; epochs (and RR for HRV) every minute."""
    tz = ZoneInfo(zone)
    asleep = []
    for i, (bed, up) in enumerate(nights):
        d = first + dt.timedelta(i)
        a = dt.datetime.combine(d, dt.time.fromisoformat(bed), tzinfo=tz)
        b = dt.datetime.combine(d + dt.timedelta(1), dt.time.fromisoformat(up), tzinfo=tz)
        asleep.append((a, b))
    start = _midnight(first, zone) + dt.timedelta(hours=8)
    end = _midnight(first + dt.timedelta(len(nights)), zone) + dt.timedelta(hours=12)
    epochs, hr = [], []
    t, seq = start, 0
    while t < end:
        if any(a <= t < b for a, b in asleep):
            row, bpm, rr = (0, 5, 2), 55, [1000.0, 1060.0] * 3
        else:
            row, bpm, rr = (100, 3000, 180), 95, [600.0, 700.0] * 5
        epochs.append((BAND, seq, t, *row, bpm, True, t))
        hr.append((BAND, seq, t, bpm, rr, t))
        t, seq = t + MIN, seq + 1
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY epochs (band_id, seq, t, steps, activity_count, enmo_mg, hr_mean, worn,"
            " received_at) FROM STDIN"
        ) as copy:
            for row in epochs:
                copy.write_row(row)
        with cur.copy("COPY hr (band_id, seq, t, bpm, rr_ms, received_at) FROM STDIN") as copy:
            for row in hr:
                copy.write_row(row)


async def test_a_night_across_midnight_is_reported_once_on_the_day_of_waking(owner, settings):
    url, zone = settings.database_url, "Europe/Berlin"
    owner.own(url, BAND)
    await _set_zone(owner, zone)
    first = dt.date(2026, 10, 23)  # the second night is 25 hours long: clocks go back
    _seed_nights(url, zone, first, [("22:30", "06:30"), ("23:00", "07:00")])
    with psycopg.connect(url) as conn:
        end = _midnight(first + dt.timedelta(3), zone)
        refresh_rollups(conn, BAND, _midnight(first, zone), end)
    days = [first + dt.timedelta(i) for i in range(3)]
    # trends answer from what is stored, and have the missing summaries computed after
    week = f"/bands/{BAND}/trends"
    r = await owner.client.get(week, params={"end": str(days[-1])})
    assert [d["sleep_minutes"] for d in r.json()["days"][-3:]] == [None, None, None]

    async def computed() -> bool:
        r = await owner.client.get(week, params={"end": str(days[-1])})
        return all(d["sleep_minutes"] is not None for d in r.json()["days"][-3:])

    await eventually(computed, 30, "the summaries computed after the trends read")
    summaries = []
    for d in days:
        r = await owner.client.get(f"/bands/{BAND}/summary", params={"date": str(d)})
        summaries.append(r.json())
    evening, first_morning, second_morning = summaries
    assert evening["sleep_minutes"] == 0 and evening["sleep"]["start"] is None
    for s, bed, up, minutes in (
        (first_morning, (first, "22:30"), "06:30", 480),
        (second_morning, (days[1], "23:00"), "07:00", 540),  # 02:00-03:00 happens twice
    ):
        sleep = s["sleep"]
        assert abs(sleep["minutes"] - minutes) <= 10 and s["sleep_minutes"] == sleep["minutes"]
        tz = ZoneInfo(zone)
        onset = dt.datetime.combine(bed[0], dt.time.fromisoformat(bed[1]), tzinfo=tz)
        wake = dt.datetime.combine(
            dt.date.fromisoformat(s["date"]), dt.time.fromisoformat(up), tzinfo=tz
        )
        assert abs(dt.datetime.fromisoformat(sleep["start"]) - onset) <= 10 * MIN
        assert abs(dt.datetime.fromisoformat(sleep["end"]) - wake) <= 10 * MIN
        assert s["hrv"]["period"] == "sleep" and s["hrv"]["rmssd_ms"] == pytest.approx(60, abs=1)
    # the whole night once: the two days' sleep is the two nights, no minute twice
    total = sum(s["sleep_minutes"] for s in summaries)
    assert abs(total - (480 + 540)) <= 20
    # trends read the stored summaries: the nights' local midpoints and their spread
    r = await owner.client.get(f"/bands/{BAND}/trends", params={"end": str(days[-1])})
    week = {d["day"]: d for d in r.json()["days"]}
    assert week[str(days[0])]["sleep_minutes"] == 0
    assert [week[str(d)]["sleep_minutes"] for d in days[1:]] == [
        s["sleep_minutes"] for s in summaries[1:]
    ]
    mids = [week[str(d)]["sleep_midpoint_local"] for d in days[1:]]
    assert mids[0][:2] == "02" and mids[1][:2] in ("02", "03")
    regularity = r.json()["sleep_regularity"]
    assert regularity["nights"] == 2 and regularity["midpoint_sd_min"] < 45


async def test_a_night_still_arriving_moves_to_the_day_of_waking(owner, settings):
    """A night read before its end has reached the server is shown as far as it goes;
    once the morning arrives it is the next day's, and the evening's stored summary is
    not reused."""
    url, zone = settings.database_url, "Asia/Shanghai"
    owner.own(url, BAND)
    await _set_zone(owner, zone)
    day = dt.date(2026, 11, 23)
    _seed_nights(url, zone, day, [("22:00", "06:00")])
    with psycopg.connect(url) as conn:  # the band uploaded up to 23:30 only
        late = dt.datetime.combine(day, dt.time(23, 30), tzinfo=ZoneInfo(zone))
        conn.execute("CREATE TABLE later AS SELECT * FROM epochs WHERE t >= %s", (late,))
        conn.execute("DELETE FROM epochs WHERE t >= %s", (late,))
        refresh_rollups(conn, BAND, _midnight(day, zone), _midnight(day + dt.timedelta(2), zone))
    r = await owner.client.get(f"/bands/{BAND}/summary", params={"date": str(day)})
    assert 60 <= r.json()["sleep_minutes"] <= 90  # so far
    with psycopg.connect(url) as conn:  # the rest of the night arrives
        conn.execute("INSERT INTO epochs SELECT * FROM later")
        conn.execute("DROP TABLE later")
        refresh_rollups(conn, BAND, _midnight(day, zone), _midnight(day + dt.timedelta(2), zone))
    evening = (await owner.client.get(f"/bands/{BAND}/summary", params={"date": str(day)})).json()
    morning = await owner.client.get(
        f"/bands/{BAND}/summary", params={"date": str(day + dt.timedelta(1))}
    )
    assert evening["sleep_minutes"] == 0
    assert abs(morning.json()["sleep_minutes"] - 480) <= 10


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu"])
async def test_today_is_the_wearers_local_today(owner, settings, zone):
    owner.own(settings.database_url, BAND)
    await _set_zone(owner, zone)
    s = (await owner.client.get(f"/bands/{BAND}/summary")).json()
    t = (await owner.client.get(f"/bands/{BAND}/trends")).json()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    assert s["date"] == t["to"] == str(today) and s["time_zone"] == t["time_zone"] == zone
    assert t["from"] == str(today - dt.timedelta(6)) and len(t["days"]) == 7


def _days(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT day, t0, t1, zone, steps FROM band_days WHERE band_id = %s ORDER BY day",
            (BAND,),
        ).fetchall()


async def test_a_traveller_loses_nothing_and_gets_no_day_twice(owner, settings):
    """Berlin, then New York (west: the day of the change is longer), then Tokyo (east:
    shorter). Past days keep their zone; the days tile time; every step is counted once."""
    url = settings.database_url
    owner.own(url, BAND)
    await _set_zone(owner, "Europe/Berlin")
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    lo, hi = now - dt.timedelta(days=4), now + dt.timedelta(days=4)
    _seed_minutes(url, lo, hi, every=5)
    with psycopg.connect(url) as conn:
        refresh_rollups(conn, BAND, lo, hi)
    total = _raw(url, lo, hi)[0]
    before = _days(url)
    for zone in ("America/New_York", "Asia/Tokyo"):
        with psycopg.connect(url) as conn:  # the local day in progress at the change
            changed_on = conn.execute("SELECT band_local_day(%s, now())", (BAND,)).fetchone()[0]
        await _set_zone(owner, zone)
        after = _days(url)
        assert sum(d[4] for d in after) == total  # nothing lost, nothing twice
        assert all(a[2] == b[1] for a, b in itertools.pairwise(after))  # tiled
        assert after[0][1] <= lo and after[-1][2] >= hi
        # the days before the day of the change are as they were lived
        kept = [d for d in before if d[0] < changed_on]
        assert after[: len(kept)] == kept
        r = await owner.client.get(
            f"/bands/{BAND}/trends", params={"period": "month", "end": str(after[-1][0])}
        )
        listed = [d for d in r.json()["days"] if d["steps"] is not None]
        assert [d["day"] for d in listed] == [str(d[0]) for d in after if d[4]]
        assert sum(d["steps"] for d in listed) == total
        for d in after:
            s = await owner.client.get(f"/bands/{BAND}/summary", params={"date": str(d[0])})
            assert s.json()["steps"] == d[4]
            assert s.json()["hours"] == round((d[2] - d[1]).total_seconds() / 3600, 2)
        # from the day after (east, it may begin at the change) on: the new zone's days
        future = [d for d in after if d[0] > changed_on + dt.timedelta(1)]
        assert future and all(d[3] == zone and d[2] - d[1] == dt.timedelta(hours=24)
                              for d in future)  # fmt: skip
        before = after
    with psycopg.connect(url) as conn:  # trends' own reckoning of a day agrees with the SQL
        history = [
            ZoneSpell(v, zone, floor)
            for v, zone, floor in conn.execute(
                "SELECT CASE WHEN valid_from = '-infinity' THEN NULL ELSE valid_from END AS v,"
                " zone, day_floor FROM band_time_zones WHERE band_id = %s ORDER BY valid_from",
                (BAND,),
            )
        ]
        first = before[0][0] - dt.timedelta(days=3)
        days = [first + dt.timedelta(days=i) for i in range(14)]
        starts = conn.execute(
            "SELECT band_day_start(%s, d) FROM unnest(%s::date[]) d", (BAND, days)
        ).fetchall()
    assert len(history) >= 2
    assert [day_start(history, d) for d in days] == [s for (s,) in starts]


async def test_trends_over_a_year_a_month_and_a_week(owner, settings):
    url, zone = settings.database_url, "Europe/Berlin"
    owner.own(url, BAND)
    await _set_zone(owner, zone)
    end = dt.date(2026, 11, 30)
    first = end - dt.timedelta(364)
    gap = (dt.date(2026, 6, 10), dt.date(2026, 6, 12))  # not worn: no data these days
    _seed_minutes(url, _midnight(first, zone), _midnight(gap[0], zone), every=30)
    _seed_minutes(url, _midnight(gap[1], zone), _midnight(end + dt.timedelta(1), zone), every=30)
    with psycopg.connect(url) as conn:
        refresh_rollups(conn, BAND, _midnight(first, zone), _midnight(end + dt.timedelta(1), zone))
    r = await owner.client.get(f"/bands/{BAND}/trends", params={"period": "year", "end": str(end)})
    assert r.status_code == 200, r.text
    year = r.json()
    assert (year["from"], year["to"], year["period"]) == (str(first), str(end), "year")
    assert len(year["days"]) == 365
    hours = {d["day"]: d["hours"] for d in year["days"]}
    assert hours["2026-03-29"] == 23 and hours["2026-10-25"] == 25
    assert sorted(set(hours.values())) == [23, 24, 25]
    with psycopg.connect(url) as conn:
        raw = conn.execute("SELECT t, steps FROM epochs WHERE band_id = %s", (BAND,)).fetchall()
    per_day: dict[str, int] = {}
    for t, steps in raw:
        key = str(t.astimezone(ZoneInfo(zone)).date())
        per_day[key] = per_day.get(key, 0) + steps
    for d in year["days"]:
        day = dt.date.fromisoformat(d["day"])
        if gap[0] <= day < gap[1]:
            assert d["steps"] is None and d["active_minutes"] is None
        else:
            assert d["steps"] == per_day[d["day"]], d["day"]
            assert d["active_minutes"] == 0  # one epoch in 30 minutes: never 100 steps
    for period, n in (("month", 30), ("week", 7)):
        r = await owner.client.get(
            f"/bands/{BAND}/trends", params={"period": period, "end": str(end)}
        )
        assert [d["day"] for d in r.json()["days"]] == [d["day"] for d in year["days"][-n:]]
    bad = await owner.client.get(f"/bands/{BAND}/trends", params={"period": "decade"})
    assert bad.status_code == 422 and "period" in bad.json()["error"]["message"]
