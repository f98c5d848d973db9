"""The wearer's data is the wearer's: export (JSON and FHIR R4, validated by the FHIR
models and read back), erasure that leaves no row of the wearer in any table, and
retention that deletes exactly what is older than each kind's limit."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import psycopg
from fhir.resources.R4B.bundle import Bundle
from psycopg import sql

from bandhub.contracts.messages import FallRecord, HrRecord, Stream
from bandhub.db import retention
from firmware_sim.physiology import fall_window
from ingest.validate import Parsed
from ingest.writer import RecordWriter
from tests.people import PASSWORD, person

DAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _seed_wearer(url: str, band_id: str, owner_id: int, name: str) -> None:
    """A day of a wearer: minute epochs and heart rate with RR intervals 02:00-10:00
    (asleep, then half an hour sitting, then walking),
    a fall that became an alert, a button press, battery, a contact, a dead letter."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO bands (band_id, name, owner_id) VALUES (%s, %s, %s)"
            " ON CONFLICT (band_id) DO UPDATE SET owner_id = EXCLUDED.owner_id,"
            " name = EXCLUDED.name",
            (band_id, name, owner_id),
        )
        with conn.cursor() as cur:
            epochs, hr = [], []
            for m in range(480):
                t = DAY + dt.timedelta(hours=2, minutes=m)
                if m < 300:  # asleep
                    steps, count, enmo, bpm, rr = 0, 5, 2, 55, [1000.0, 1050.0] * 3
                elif m < 330:  # awake, sitting still
                    steps, count, enmo, bpm, rr = 0, 50, 40, 62, [950.0, 980.0] * 3
                else:  # walking
                    steps, count, enmo, bpm, rr = 90, 2500, 150, 88, [680.0, 700.0] * 4
                epochs.append((band_id, m, t, steps, count, enmo, bpm))
                hr.append((band_id, m, t, bpm, rr))
            cur.executemany(
                "INSERT INTO epochs VALUES (%s, %s, %s, %s, %s, %s, %s, true, now())", epochs
            )
            cur.executemany("INSERT INTO hr VALUES (%s, %s, %s, %s, %s, true, now())", hr)
        conn.execute("INSERT INTO buttons VALUES (%s, 1, %s, 'im_ok', now())", (band_id, DAY))
        conn.execute("INSERT INTO battery VALUES (%s, 1, %s, 80, now())", (band_id, DAY))
        conn.execute(
            "INSERT INTO contacts (band_id, name, channel, address, secret)"
            " VALUES (%s, %s, 'email', %s, '')",
            (band_id, f"{name}'s daughter", f"{name.lower()}.daughter@example.org"),
        )
        conn.execute(
            "INSERT INTO dead_letters (topic, band_id, reason, payload)"
            " VALUES ('t', %s, 'bpm out of range', '{}')",
            (band_id,),
        )
        conn.commit()
        ax, ay, az, pre = fall_window(np.random.default_rng(1))
        fall = FallRecord(seq=9, t=DAY.timestamp() + 36000, fs_hz=50, pre_samples=pre,
                          ax_g=list(ax), ay_g=list(ay), az_g=list(az))  # fmt: skip
        RecordWriter(conn, auto_register=False, countdown_s=0).write(
            [("t", Parsed(band_id, Stream.FALL, DAY.timestamp() + 36001, [fall], []))]
        )


def _counts(url: str, band_id: str) -> dict[str, int]:
    """Rows naming the band, in every table that has a band_id column."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'band_id'"
                " AND table_schema = current_schema() ORDER BY 1"
            )
        ]
        return {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE band_id = %s").format(sql.Identifier(t)),
                (band_id,),
            ).fetchone()[0]
            for t in tables
        }


async def test_the_json_export_holds_everything_about_the_wearer(owner, settings):
    _seed_wearer(settings.database_url, "BH-0001", owner.account_id, "Ann")
    await owner.client.post(
        "/bands/BH-0001/shares", json={"email": "bo@example.com", "scopes": ["summaries"]}
    )
    await owner.client.get("/bands/BH-0001/summary", params={"date": "2026-11-23"})
    r = await owner.client.get("/bands/BH-0001/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert (doc["format"], doc["version"]) == ("bandhub-export", 1)
    assert (
        doc["wearer"]["band_id"] == "BH-0001" and doc["wearer"]["owner_email"] == "ann@example.com"
    )
    counts = _counts(settings.database_url, "BH-0001")
    for stream in ("hr", "epochs", "falls", "buttons", "battery"):
        assert len(doc["records"][stream]) == counts[stream], stream
    assert doc["records"]["hr"][0]["rr_ms"] == [1000.0, 1050.0] * 3
    [alert] = doc["alerts"]
    assert alert["kind"] == "fall" and alert["timeline"][0]["event"] == "opened"
    assert [c["name"] for c in doc["contacts"]] == ["Ann's daughter"]
    assert doc["shares"][0]["email"] == "bo@example.com"
    assert doc["consents"][0]["grantee"] == "bo@example.com"
    assert any(e["action"] == "GET /bands/{band_id}/summary" for e in doc["audit_log"])
    [summary] = doc["daily_summaries"]
    assert summary["date"] == "2026-11-23" and summary["steps"] == 150 * 90


async def test_the_fhir_export_is_a_valid_r4_bundle_that_reads_back(owner, settings):
    _seed_wearer(settings.database_url, "BH-0001", owner.account_id, "Ann")
    r = await owner.client.get("/bands/BH-0001/export", params={"format": "fhir"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(r.content)  # the FHIR models validate every resource
    assert bundle.type == "collection"
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds[:2] == ["Patient", "Device"]
    observations = [
        e.resource for e in bundle.entry if e.resource.get_resource_type() == "Observation"
    ]
    by_code: dict[str, list] = {}
    for o in observations:
        [coding] = o.code.coding
        assert coding.system == "http://loinc.org"
        assert o.valueQuantity.system == "http://unitsofmeasure.org"
        by_code.setdefault(coding.code, []).append(o)
    assert set(by_code) == {"8867-4", "40443-4", "41950-7", "80404-7", "93832-4"}
    hourly = {o.effectivePeriod.start: o.valueQuantity.value for o in by_code["8867-4"]}
    assert len(hourly) == 8 and hourly[DAY + dt.timedelta(hours=2)] == 55.0
    assert by_code["8867-4"][0].valueQuantity.code == "/min"
    [steps] = by_code["41950-7"]
    assert steps.valueQuantity.value == 150 * 90 and steps.valueQuantity.code == "/d"
    [sleep] = by_code["93832-4"]
    assert abs(sleep.valueQuantity.value - 300) <= 15 and sleep.valueQuantity.code == "min"
    [sdnn] = by_code["80404-7"]
    assert sdnn.valueQuantity.code == "ms" and sdnn.valueQuantity.value > 0
    assert json.loads(r.content)["entry"][2]["resource"]["subject"]["reference"].startswith(
        "urn:uuid:"
    )


async def test_erasing_a_wearer_leaves_no_row_of_them_anywhere(owner, api, settings, broker):
    other = await person(str(api.base_url), settings.database_url, "cy@example.com")
    _seed_wearer(settings.database_url, "BH-0001", owner.account_id, "Ann")
    _seed_wearer(settings.database_url, "BH-0002", other.account_id, "Cy")
    await owner.client.post(
        "/bands/BH-0001/shares", json={"email": "cy@example.com", "scopes": ["summaries"]}
    )
    await owner.client.get("/bands/BH-0001/diagnostics")  # an audit row
    before = _counts(settings.database_url, "BH-0001")
    others_before = _counts(settings.database_url, "BH-0002")
    assert all(before[t] > 0 for t in ("hr", "epochs", "falls", "alerts", "contacts", "shares",
                                       "consents", "audit_log", "dead_letters"))  # fmt: skip

    r = await owner.client.delete("/bands/BH-0001")
    assert r.status_code == 200
    assert r.json()["rows"]["hr"] == before["hr"]
    after = _counts(settings.database_url, "BH-0001")
    print("rows of the erased wearer per table, before -> after:")
    for table in sorted(before):
        print(f"  {table:14} {before[table]:6} -> {after[table]}")
    assert all(n == 0 for t, n in after.items() if t != "erasures"), after
    others_after = _counts(settings.database_url, "BH-0002")
    assert {t: n for t, n in others_after.items() if t != "audit_log"} == {
        t: n for t, n in others_before.items() if t != "audit_log"
    }
    with psycopg.connect(settings.database_url) as conn:
        [(band_hash, alerts, text)] = conn.execute(
            "SELECT band_hash, alerts, row_to_json(e)::text FROM erasures e"
        ).fetchall()
    assert "BH-0001" not in text and "Ann" not in text  # only the legal minimum stays
    assert [a["kind"] for a in alerts] == ["fall"] and len(band_hash) == 64

    assert (
        await owner.client.get("/bands/BH-0001/summary", params={"date": "2026-11-23"})
    ).status_code == 404
    assert (await owner.client.get("/bands")).json() == []
    # the band is heard again: a new, unclaimed band with nobody's contacts
    heard = Parsed(
        "BH-0001", Stream.HR, DAY.timestamp(), [HrRecord(seq=1, t=DAY.timestamp(), bpm=70)], []
    )
    with psycopg.connect(settings.database_url) as conn:
        RecordWriter(conn, auto_register=True, countdown_s=0).write([("t", heard)])
        band = conn.execute("SELECT owner_id, name FROM bands WHERE band_id = 'BH-0001'").fetchone()
    assert band == (None, "")
    assert _counts(settings.database_url, "BH-0001")["contacts"] == 0
    await other.aclose()


async def test_erasing_an_account_erases_its_wearers_and_ends_its_sign_in(owner, settings):
    _seed_wearer(settings.database_url, "BH-0001", owner.account_id, "Ann")
    wrong = await owner.client.post("/auth/me/erase", json={"password": "not it"})
    assert wrong.status_code == 403
    r = await owner.client.post("/auth/me/erase", json={"password": PASSWORD})
    assert r.status_code == 200 and r.json()["erased"] == ["BH-0001"]
    assert r.json()["rows"]["accounts"] == 1
    assert (await owner.client.get("/auth/me")).status_code == 401
    assert all(
        n == 0 for t, n in _counts(settings.database_url, "BH-0001").items() if t != "erasures"
    )


def test_retention_deletes_exactly_what_is_older_than_each_kinds_limit(clean_db):
    now = dt.datetime.now(dt.UTC)
    ages = [1, 9, 11, 40]  # days
    with psycopg.connect(clean_db) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0001')")
        for i, days in enumerate(ages):
            t = now - dt.timedelta(days=days)
            conn.execute("INSERT INTO hr VALUES ('BH-0001', %s, %s, 60, '{}', true, now())", (i, t))
            conn.execute(
                "INSERT INTO epochs VALUES ('BH-0001', %s, %s, 0, 0, 0, 60, true, now())", (i, t)
            )
            conn.execute(
                "INSERT INTO dead_letters (received_at, topic, reason, payload)"
                " VALUES (%s, 't', 'r', '')",
                (t,),
            )
            conn.execute(
                "INSERT INTO audit_log (at, band_id, actor, action)"
                " VALUES (%s, 'BH-0001', 'owner', 'x')",
                (t,),
            )
    from bandhub.settings import Settings

    settings = Settings(
        database_url=clean_db,
        retention_hr_days=10,
        retention_epochs_days=0,  # kept forever
        retention_dead_letters_days=30,
        retention_audit_days=10.5,
        _env_file=None,
    )
    with psycopg.connect(clean_db) as conn:
        deleted = retention.enforce(conn, settings)
        left = {
            table: sorted(
                round((now - r[0]).total_seconds() / 86400)
                for r in conn.execute(sql.SQL("SELECT {} FROM {}").format(
                    sql.Identifier(column), sql.Identifier(table)))
            )
            for table, column in [("hr", "t"), ("epochs", "t"), ("dead_letters", "received_at"),
                                  ("audit_log", "at")]
        }  # fmt: skip
    assert deleted == {"heart_rate": 2, "dead_letters": 1, "audit": 2}
    assert left == {"hr": [1, 9], "epochs": ages, "dead_letters": [1, 9, 11], "audit_log": [1, 9]}
    with psycopg.connect(clean_db) as conn:  # outside the job the audit log stays append-only
        try:
            conn.execute("DELETE FROM audit_log")
            raise AssertionError("the audit log accepted a DELETE")
        except psycopg.errors.RaiseException:
            pass
