"""End to end on real parts: bumble bands -> bleak gateway -> mosquitto -> ingest ->
PostgreSQL -> API over HTTP, and a fall -> signed webhook at a real receiver."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from bumble.link import LocalLink

from bandhub.claims import claim_code
from firmware_sim.runner import FleetOptions, start_fleet, truth_report
from gateway.backend import local_link_backend
from stack.services import SystemServices
from stack.webhook_receiver import WebhookReceiver
from tests.e2e.helpers import eventually, produced_counts, stored_counts
from tests.people import person

pytestmark = [pytest.mark.e2e]

DAY = dt.date(2026, 11, 23)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_a_simulated_afternoon_arrives_whole_and_the_fall_reaches_the_contact(
    settings, broker
):
    settings.gateway_auth = True  # the gateway has its own login, bound to its two bands
    settings.gateway_location = "38.7369,-9.1427,25"  # a home gateway's fixed address
    link = LocalLink()
    receiver = WebhookReceiver(secret=SECRET)
    await receiver.start()
    opts = FleetOptions(
        count=2,
        start=dt.datetime.combine(DAY, dt.time(14, 0), tzinfo=dt.UTC),
        days=2 / 24,  # 14:00 to 16:00, band time
        speed=900,
        fall_band=0,
        fall_at_s=15 * 3600,
    )
    async with SystemServices(settings, broker) as system:
        await system.start_pipeline(
            gateway_backend=await local_link_backend(link),
            set_band_clock=False,
            bands=["BH-0001", "BH-0002"],
        )
        ann = await person(system.api_url, settings.database_url, "ann@example.com")
        async with ann.client as http:
            for band in ("BH-0001", "BH-0002"):
                code = claim_code(settings.claim_secret, band)
                r = await http.post(f"/bands/{band}/claim", json={"claim_code": code})
                assert r.status_code == 200, r.text
            r = await http.post(
                "/bands/BH-0001/contacts",
                json={"name": "Daughter", "url": receiver.url, "secret": SECRET},
            )
            assert r.status_code == 201, r.text

            bands = await start_fleet(opts, link)
            await asyncio.wait_for(asyncio.gather(*(b.stopped.wait() for b in bands)), 60)
            expected = produced_counts(bands)
            await eventually(
                lambda: stored_counts(settings.database_url) == expected,
                60,
                f"every record stored exactly once: {expected}",
            )
            truth = truth_report(bands)
            for band_id, band_truth in truth.items():
                s = (await http.get(f"/bands/{band_id}/summary", params={"date": str(DAY)})).json()
                t = band_truth["days"][str(DAY)]
                assert s["steps"] == t["steps"]  # per-minute step counts travel exactly
                assert abs(s["heart_rate"]["avg"] - t["hr_mean"]) < 1.5
                assert s["falls"] == (1 if band_id == "BH-0001" else 0)
                assert abs(s["sleep_minutes"] - t["asleep_minutes"]) <= 10
                # two afternoon hours: HRV over the day, from RR intervals sent in records
                assert s["hrv"]["period"] == "day"
                assert abs(s["hrv"]["rmssd_ms"] - t["rmssd_ms"]) <= 0.05 * t["rmssd_ms"]
                assert 0.08 < s["coverage"] <= 2 / 24 + 0.001  # two hours of a day

            await eventually(lambda: len(receiver.deliveries) == 2, 30, "the fall alert")
            notice, delivery = receiver.deliveries
            assert notice.payload["type"] == "contact_added" and notice.valid_signature
            assert delivery.valid_signature
            assert delivery.payload["band_id"] == "BH-0001"
            assert delivery.payload["kind"] == "fall"
            assert 40 <= delivery.payload["last_heart_rate_bpm"] <= 200
            assert 0 < delivery.payload["battery_percent"] <= 100
            assert delivery.payload["gateway_location"] == {
                "lat": 38.7369, "lon": -9.1427, "accuracy_m": 25.0
            }  # fmt: skip
            assert "/ack-link?contact=" in delivery.payload["ack_url"]
            [alert] = (await http.get("/alerts")).json()
            detail = (await http.get(f"/alerts/{alert['id']}")).json()
            assert detail["state"] == "dispatched"
            assert [d["state"] for d in detail["deliveries"]] == ["delivered"]
            events = [(e["event"], e["detail"].get("ok")) for e in detail["timeline"]]
            assert events == [("opened", None), ("dispatched", None), ("delivery", True)]
        for band in bands:
            await band.close()
    await receiver.stop()


async def test_im_ok_within_the_countdown_cancels_the_alert_and_nobody_is_disturbed(
    settings, broker
):
    settings.fall_countdown_s = 8
    settings.gateway_auth = True  # the countdown command reaches the band through the ACLs
    link = LocalLink()
    receiver = WebhookReceiver(secret=SECRET)
    await receiver.start()
    opts = FleetOptions(
        count=1,
        start=dt.datetime.combine(DAY, dt.time(14, 59, 50), tzinfo=dt.UTC),
        speed=5,
        fall_band=0,
        fall_at_s=15 * 3600,  # 2 s after the start
        im_ok_after_s=1.0,
    )
    async with SystemServices(settings, broker) as system:
        await system.start_pipeline(
            gateway_backend=await local_link_backend(link),
            set_band_clock=False,
            bands=["BH-0001"],
        )
        ann = await person(system.api_url, settings.database_url, "ann@example.com")
        async with ann.client as http:
            code = claim_code(settings.claim_secret, "BH-0001")
            await http.post("/bands/BH-0001/claim", json={"claim_code": code})
            await http.post(
                "/bands/BH-0001/contacts",
                json={"name": "Daughter", "url": receiver.url, "secret": SECRET},
            )
            [band] = await start_fleet(opts, link)

            async def alert_state() -> str | None:
                alerts = (await http.get("/alerts")).json()
                return alerts[0]["state"] if alerts else None

            await eventually(
                lambda: _is(alert_state(), "cancelled_by_wearer"), 30, "the wearer's cancel"
            )
            kinds = [e.kind for e in band.events]
            assert kinds.index("impact") < kinds.index("countdown") < kinds.index("button")
            await asyncio.sleep(settings.fall_countdown_s + 2)  # past the countdown's end
            assert [d.payload["type"] for d in receiver.deliveries] == ["contact_added"]
            [alert] = (await http.get("/alerts")).json()
            detail = (await http.get(f"/alerts/{alert['id']}")).json()
            assert [d["state"] for d in detail["deliveries"]] == ["cancelled"]
            assert [e["event"] for e in detail["timeline"]] == ["opened", "cancelled_by_wearer"]
            await band.close()
    await receiver.stop()


async def _is(value, expected) -> bool:
    return (await value) == expected
