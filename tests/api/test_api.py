"""The API over real HTTP (uvicorn) on a real PostgreSQL: figures and JSON errors."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

DAY = dt.date(2026, 11, 23)
MIDNIGHT = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)


def _seed(url: str, owner_id: int) -> None:
    """Two hours of known data: 10:00-11:00 walking, 11:00-12:00 sitting; the band is
    ``owner_id``'s."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO bands (band_id, name, owner_id) VALUES ('BH-0001', 'Ann', %s)",
            (owner_id,),
        )
        for minute in range(120):
            t = MIDNIGHT + dt.timedelta(hours=10, minutes=minute)
            walking = minute < 60
            conn.execute(
                "INSERT INTO epochs VALUES ('BH-0001', %s, %s, %s, %s, %s, %s, true, now())",
                (
                    minute,
                    t,
                    100 if walking else 0,
                    3000 if walking else 60,
                    150,
                    90 if walking else 62,
                ),
            )
            conn.execute(
                "INSERT INTO hr VALUES ('BH-0001', %s, %s, %s, '{}', true, now())",
                (1000 + minute, t, 90 if walking else 62),
            )


async def test_daily_summary_figures(owner, settings):
    _seed(settings.database_url, owner.account_id)
    r = await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})
    assert r.status_code == 200
    s = r.json()
    assert s["steps"] == 6000
    assert s["heart_rate"]["min"] == 62 and s["heart_rate"]["max"] == 90
    assert s["heart_rate"]["avg"] == 76.0
    assert s["heart_rate"]["resting"] == 62
    assert s["falls"] == 0
    assert s["coverage"] == pytest.approx(120 / 1440, abs=1e-3)
    assert s["sleep"]["minutes"] == s["sleep_minutes"] == 0
    assert s["sleep"]["start"] is None
    assert s["hrv"] is None  # no RR intervals that day
    empty = await owner.client.get(
        "/bands/BH-0001/summary", params={"date": str(DAY - dt.timedelta(1))}
    )
    assert empty.status_code == 200
    e = empty.json()
    assert (e["steps"], e["sleep"]["minutes"], e["hrv"], e["coverage"]) == (0, 0, None, 0)


def _seed_night(url: str, owner_id: int) -> None:
    """00:00-06:00 asleep (still, 55 bpm, RR 1000/1060 ms alternating), then 06:00-08:00
    walking (RR 600/700 ms, which must stay out of the night's HRV)."""
    epochs, hr = [], []
    for minute in range(480):
        t = MIDNIGHT + dt.timedelta(minutes=minute)
        if minute < 360:  # steps, activity count, ENMO (mg), heart rate, RR (ms)
            steps, count, enmo, bpm, rr = 0, 5, 2, 55, [1000.0, 1060.0] * 3
        else:
            steps, count, enmo, bpm, rr = 100, 3000, 180, 95, [600.0, 700.0] * 5
        epochs.append((minute, t, steps, count, enmo, bpm))
        hr.append((minute, t, bpm, rr))
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO bands (band_id, name, owner_id) VALUES ('BH-0001', 'Ann', %s)",
            (owner_id,),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO epochs VALUES ('BH-0001', %s, %s, %s, %s, %s, %s, true, now())",
                epochs,
            )
            cur.executemany("INSERT INTO hr VALUES ('BH-0001', %s, %s, %s, %s, true, now())", hr)


async def test_daily_summary_sleep_and_nightly_hrv_from_the_bands_rr(owner, settings):
    _seed_night(settings.database_url, owner.account_id)
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    sleep = s["sleep"]
    assert abs(sleep["minutes"] - 360) <= 10
    start, end = (dt.datetime.fromisoformat(sleep[k]) for k in ("start", "end"))
    assert start - MIDNIGHT <= dt.timedelta(minutes=10)
    assert abs(end - (MIDNIGHT + dt.timedelta(hours=6))) <= dt.timedelta(minutes=10)
    assert sleep["efficiency"] > 0.95 and sleep["awakenings"] == 0
    assert sum(sleep["stages_estimate_min"].values()) == sleep["minutes"]
    hrv = s["hrv"]
    assert hrv["period"] == "sleep"
    assert hrv["rmssd_ms"] == pytest.approx(60.0, abs=0.5)  # the walk's 100 ms steps left out
    assert hrv["mean_nn_ms"] == pytest.approx(1030.0, abs=0.5)
    assert hrv["pnn50_pct"] == 100.0
    assert hrv["removed"] == 0


@pytest.mark.parametrize("start", ["2026-11-23T10:00:00Z", "2026-11-23T10:00:00"])
async def test_heart_rate_series_by_resolution(owner, settings, start):
    """A time without an offset is UTC, as every time in the API."""
    _seed(settings.database_url, owner.account_id)
    r = await owner.client.get(
        "/bands/BH-0001/hr",
        params={"start": start, "end": "2026-11-23T12:00:00Z", "resolution": "1h"},
    )
    assert r.status_code == 200
    points = r.json()["points"]
    assert [(p["bpm"], p["min"], p["max"]) for p in points] == [(90.0, 90, 90), (62.0, 62, 62)]
    assert [p["t"] for p in points] == ["2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "words"),
    [
        ("/bands/BH-9999/summary", {"date": "2026-11-23"}, 404, "unknown_band", "BH-9999"),
        ("/bands/BH-0001/summary", {"date": "yesterday"}, 422, "invalid_request", "date"),
        (
            "/bands/BH-0001/hr",
            {"start": "2026-11-23T12:00:00Z", "end": "2026-11-23T10:00:00Z"},
            422,
            "invalid_request",
            "end must be after start",
        ),
        (
            "/bands/BH-0001/hr",
            {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T12:00:00Z", "resolution": "7s"},
            422,
            "invalid_request",
            "resolution",
        ),
        ("/alerts/12345", {}, 404, "unknown_alert", "12345"),
        ("/no/such/path", {}, 404, "not_found", "Not Found"),
    ],
)
async def test_errors_are_json_with_a_clear_message(
    owner, settings, path, params, status, code, words
):
    _seed(settings.database_url, owner.account_id)
    r = await owner.client.get(path, params=params)
    assert r.status_code == status
    body = r.json()["error"]
    assert body["code"] == code
    assert words in body["message"]


async def test_adding_contacts_validates_input(owner, settings):
    owner.own(settings.database_url, "BH-0007")
    r = await owner.client.post(
        "/bands/BH-0007/contacts", json={"name": "Al", "url": "not a url", "secret": "x" * 20}
    )
    assert r.status_code == 422 and "url" in r.json()["error"]["message"]
    r = await owner.client.post(
        "/bands/BH-0404/contacts",
        json={"name": "Al", "url": "http://127.0.0.1:9/hook", "secret": "x" * 20},
    )
    assert r.status_code == 404
    assert [b["band_id"] for b in (await owner.client.get("/bands")).json()] == ["BH-0007"]


async def test_the_bands_list_comes_in_pages_that_follow_each_other(owner, settings):
    bands = [f"BH-{k:04d}" for k in range(1, 8)]
    owner.own(settings.database_url, *reversed(bands))
    with psycopg.connect(settings.database_url) as conn:  # someone else's: never listed
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0004a')")
    r = await owner.client.get("/bands")
    assert [b["band_id"] for b in r.json()] == bands and "link" not in r.headers
    seen, url, params = [], "/bands", {"limit": 3}
    while url:
        r = await owner.client.get(url, params=params)
        page = [b["band_id"] for b in r.json()]
        assert len(page) <= 3
        seen += page
        link = r.headers.get("link")
        url, params = (link.split(">")[0].lstrip("<"), None) if link else (None, None)
    assert seen == bands
    r = await owner.client.get("/bands", params={"after": "BH-0006", "limit": 5})
    assert [b["band_id"] for b in r.json()] == ["BH-0007"] and "link" not in r.headers
    assert (await owner.client.get("/bands", params={"limit": 0})).status_code == 422


async def test_diagnostics_show_the_link_and_the_battery_curve(owner, clean_db):
    import datetime as dt

    import psycopg

    from bandhub.contracts.messages import BandStatus, LinkEvent
    from ingest.writer import RecordWriter

    now = dt.datetime.now(dt.UTC).timestamp()
    status = BandStatus(
        v=1, band_id="BH-0007", gateway_id="gw-1", connected=False, at=now, firmware="1.2.0",
        reconnects=3, last_error="TimeoutError: connect", clock_offset_s=-1.5,
        history=[LinkEvent(at=now - 60, event="connected"), LinkEvent(at=now, event="failed")],
    )  # fmt: skip
    with psycopg.connect(clean_db) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0007')")
        conn.execute(
            "INSERT INTO battery (band_id, seq, t, level, received_at) VALUES"
            " ('BH-0007', 1, now() - interval '2 hours', 80, now()),"
            " ('BH-0007', 2, now() - interval '1 hour', 74, now())"
        )
        conn.commit()
        owner.own(clean_db, "BH-0007")
        RecordWriter(conn, auto_register=False, countdown_s=0).band_status(
            status.model_dump_json().encode()
        )
    d = (await owner.client.get("/bands/BH-0007/diagnostics")).json()
    assert d["gateway"] == "gw-1"
    assert d["link"]["reconnects"] == 3 and d["link"]["last_error"].startswith("TimeoutError")
    assert [e["event"] for e in d["link"]["history"]] == ["connected", "failed"]
    assert [p["level"] for p in d["battery_hourly"]] == [80, 74]
    assert (await owner.client.get("/bands/BH-0404/diagnostics")).status_code == 404


async def test_a_band_is_claimed_only_with_the_code_from_its_box(api, owner, settings):
    from bandhub.claims import claim_code
    from tests.people import person

    claim = owner.client.post
    code = claim_code(settings.claim_secret, "BH-0042")
    wrong = await claim("/bands/BH-0042/claim", json={"claim_code": "AAAA-AAAA"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "bad_claim_code"
    other = claim_code(settings.claim_secret, "BH-0043")  # a real code, for another band
    assert (await claim("/bands/BH-0042/claim", json={"claim_code": other})).status_code == 403
    anonymous = await api.post("/bands/BH-0042/claim", json={"claim_code": code})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    r = await claim("/bands/BH-0042/claim", json={"claim_code": code.lower(), "name": "Gran"})
    assert r.status_code == 200 and r.json()["owner_id"] == owner.account_id
    assert r.json()["name"] == "Gran"
    again = await claim("/bands/BH-0042/claim", json={"claim_code": code})
    assert again.status_code == 200 and again.json()["name"] == "Gran"  # nothing changes
    eve = await person(str(api.base_url), settings.database_url, "eve@example.com")
    theft = await eve.client.post("/bands/BH-0042/claim", json={"claim_code": code})
    assert theft.status_code == 409 and theft.json()["error"]["code"] == "claimed"
    assert (await eve.client.get("/bands")).json() == []
    await eve.aclose()


async def test_bad_input_is_a_clear_4xx_never_a_500(owner, settings):
    """What a schema-based fuzzer found (or would): each once answered 500."""
    _seed(settings.database_url, owner.account_id)
    day = {"date": "2026-11-23"}
    cases = [  # method, path, query, body, status, code
        ("GET", "/alerts", {"limit": -1}, None, 422, "invalid_request"),
        ("GET", "/alerts", {"limit": 0}, None, 422, "invalid_request"),
        ("GET", "/bands/BH-0001/dead-letters", {"limit": -5}, None, 422, "invalid_request"),
        ("GET", "/alerts", {"band_id": "BH\x00"}, None, 422, "invalid_request"),
        ("GET", "/bands/BH%00/summary", day, None, 404, "unknown_band"),
        ("PATCH", "/bands/BH%00", None, {"fall_countdown_s": 5}, 404, "unknown_band"),
        ("GET", "/bands/BH-0001/summary", {"date": "9999-12-31"}, None, 422, "invalid_request"),
        ("PATCH", "/bands/BH-0001", None, {"name": "A\x00"}, 422, "invalid_request"),
        (
            "POST",
            "/bands/BH-0001/contacts",
            None,
            {"name": "Al", "channel": "email", "email": "al@example.org", "position": 2**40},
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/bands/BH-0042/claim",
            None,
            {"claim_code": "ÄÄÄÄ-ÄÄÄÄ"},
            422,
            "invalid_request",
        ),
        ("GET", "/alerts/1/ack-link", {"contact": 1, "sig": "é"}, None, 403, "bad_signature"),
        ("POST", "/alerts/1/ack-link", {"contact": 1, "sig": "é"}, None, 403, "bad_signature"),
    ]
    for method, path, query, body, status, code in cases:
        r = await owner.client.request(method, path, params=query, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, query, body)
        assert r.json()["error"]["message"]


async def test_a_body_that_is_not_json_is_a_422_and_a_wrong_method_says_what_is_allowed(
    owner, settings
):
    owner.own(settings.database_url, "BH-0001")
    for body in (b"\xff\xfe{", b"{not json"):
        r = await owner.client.patch(
            "/bands/BH-0001", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", body
    r = await owner.client.request("TRACE", "/bands")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_an_alert_shows_every_column_and_keeps_its_timestamp_formats(owner, settings):
    """Response models must not hide what clients saw before they existed."""
    _seed(settings.database_url, owner.account_id)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
            " VALUES ('BH-0001', 'low_battery', 'dispatched', %s, %s)",
            (MIDNIGHT, MIDNIGHT),
        )
        columns = [c.name for c in conn.execute("SELECT * FROM alerts").description]
    detail = (await owner.client.get("/alerts/1")).json()
    assert set(detail) == {*columns, "deliveries", "timeline"}
    assert detail["event_t"] == "2026-11-23T00:00:00Z"
    [listed] = (await owner.client.get("/alerts")).json()
    assert listed["event_t"] == "2026-11-23T00:00:00+00:00"  # as GET /alerts always wrote it


async def test_what_a_201_created_is_there_in_the_next_request(owner, settings):
    """The transaction commits before the response leaves (it once committed after,
    and about one read in twenty right after a 201 did not find the new contact)."""
    owner.own(settings.database_url, "BH-0001")
    contact = {"name": "Al", "channel": "email", "email": "al@example.org"}
    for i in range(100):
        r = await owner.client.post("/bands/BH-0001/contacts", json=contact)
        assert r.status_code == 201
        listed = (await owner.client.get("/bands/BH-0001/contacts")).json()
        assert len(listed) == i + 1, i
