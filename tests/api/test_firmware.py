"""The firmware catalogue and the owner's side of an update, through the real API,
PostgreSQL and broker: who is offered what, in which language, and what reaches the
band's gateway (docs/mqtt.md, "Firmware update")."""

from __future__ import annotations

import base64
import datetime as dt
import json
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bandhub.contracts import dfu
from tests.e2e.helpers import eventually
from tests.firmware_images import VENDOR_PUBLIC, signed_image
from tests.gateway.test_gateway_behaviour import Listener
from tests.people import person

FLEET = [f"BH-{i:04d}" for i in range(1, 201)]


def runs(url: str, band_ids: list[str], version: str = "1.0.0", model: str = "BH-1") -> None:
    """The bands' gateway says they run ``version`` of ``model`` (as ingest stores it)."""
    with psycopg.connect(url) as conn:
        for band_id in band_ids:
            status = {"v": 1, "band_id": band_id, "gateway_id": "gw-1", "connected": True,
                      "at": 1.8e9, "model": model, "firmware": version}  # fmt: skip
            conn.execute("INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING",
                         (band_id,))  # fmt: skip
            conn.execute(
                "INSERT INTO band_status (band_id, gateway_id, status) VALUES (%s, 'gw-1', %s)"
                " ON CONFLICT (band_id) DO UPDATE SET status = excluded.status",
                (band_id, json.dumps(status)),
            )


def release_body(version: str, size: int = 2048) -> dict:
    image, signature = signed_image(version, size=size)
    return {"image_b64": base64.b64encode(image).decode(), "signature_hex": signature.hex(),
            "notes_en": f"{version}: longer battery life",
            "notes_zh": f"{version}：续航更长"}  # fmt: skip


@pytest.fixture
def listener(broker):
    lst = Listener(broker)
    yield lst
    lst.close()


async def test_a_rollout_at_50_percent_reaches_half_the_fleet(support, settings, listener):
    runs(settings.database_url, FLEET)
    runs(settings.database_url, ["BH-9001", "BH-9002"], model="BH-2")  # another model
    r = await support.client.post("/firmware/releases", json=release_body("1.1.0"))
    assert r.status_code == 201, r.text
    release = r.json()
    assert (release["model"], release["version"], release["rollout"]) == ("BH-1", "1.1.0", "none")

    r = await support.client.put(f"/firmware/releases/{release['id']}/rollout",
                                 json={"mode": "percent", "percent": 10})  # fmt: skip
    first = set(r.json()["reminded"])
    r = await support.client.put(f"/firmware/releases/{release['id']}/rollout",
                                 json={"mode": "percent", "percent": 50})  # fmt: skip
    assert r.status_code == 200, r.text
    more = set(r.json()["reminded"])
    reached = first | more
    print(f"ROLLOUT 10 % -> {len(first)} bands, 50 % -> {len(reached)} of {len(FLEET)}")
    assert 5 <= len(first) <= 35 and 80 <= len(reached) <= 120
    assert not first & more  # a band inside at 10 % stays inside, reminded once
    assert reached <= set(FLEET)  # never the other model

    # the bands are told through their gateway, once each
    await eventually(lambda: len(listener.on("/cmd")) >= len(reached), 10, "the reminders")
    told = {t.split("/")[-2]: p for t, p in listener.messages if t.endswith("/cmd")}
    assert set(told) == reached
    assert all(p["cmd"] == "message" and p["args"]["text"] == "Update 1.1.0"
               for p in told.values())  # fmt: skip

    inside, outside = sorted(reached)[0], sorted(set(FLEET) - reached)[0]
    assert (await support.client.get(f"/bands/{inside}/firmware")).json()["available"]
    assert (await support.client.get(f"/bands/{outside}/firmware")).json()["available"] is None

    r = await support.client.post(f"/firmware/releases/{release['id']}/pause")
    assert r.json()["release"]["paused"] is True
    assert (await support.client.get(f"/bands/{inside}/firmware")).json()["available"] is None
    r = await support.client.post(f"/firmware/releases/{release['id']}/resume")
    assert r.json()["reminded"] == []  # already told of this release
    assert (await support.client.get(f"/bands/{inside}/firmware")).json()["available"]


async def test_a_group_rollout_reaches_only_the_group(support, settings):
    runs(settings.database_url, FLEET[:5])
    release = (await support.client.post("/firmware/releases", json=release_body("1.2.0"))).json()
    r = await support.client.put("/firmware/groups/pilot", json={"band_ids": FLEET[:2]})
    assert r.status_code == 200
    r = await support.client.put(f"/firmware/releases/{release['id']}/rollout",
                                 json={"mode": "group", "group": "pilot"})  # fmt: skip
    assert sorted(r.json()["reminded"]) == FLEET[:2]
    r = await support.client.put("/firmware/groups/pilot", json={"band_ids": ["BH-7777"]})
    assert r.status_code == 422 and "BH-7777" in r.text


async def test_a_release_must_be_signed_by_the_vendor_and_catalogued_once(api, settings):
    settings.firmware_public_key = VENDOR_PUBLIC.hex()
    staff = await person(str(api.base_url), settings.database_url, "sue@bandhub.example",
                         support=True)  # fmt: skip
    body = release_body("1.3.0")
    forged = {**body, "signature_hex": "00" * 64}
    r = await staff.client.post("/firmware/releases", json=forged)
    assert r.status_code == 422 and "does not verify" in r.text
    assert (await staff.client.post("/firmware/releases", json=body)).status_code == 201
    r = await staff.client.post("/firmware/releases", json=body)
    assert r.status_code == 409 and "already catalogued" in r.text
    junk = {**body, "image_b64": base64.b64encode(b"x" * 100).decode()}
    r = await staff.client.post("/firmware/releases", json=junk)
    assert r.status_code == 422 and "BHFW" in r.text
    await staff.aclose()


async def test_the_owner_sees_the_update_in_their_language_and_chooses(
    owner, support, settings, listener
):
    owner.own(settings.database_url, "BH-0001")
    runs(settings.database_url, ["BH-0001"])
    assert (await owner.client.get("/bands/BH-0001/firmware")).json()["available"] is None
    r = await owner.client.post("/bands/BH-0001/firmware/update", json={"action": "now"})
    assert r.status_code == 409 and "no firmware update" in r.text

    release = (await support.client.post("/firmware/releases", json=release_body("1.1.0"))).json()
    await support.client.put(f"/firmware/releases/{release['id']}/rollout", json={"mode": "all"})

    zh = (
        await owner.client.get("/bands/BH-0001/firmware", headers={"Accept-Language": "zh-CN,zh"})
    ).json()
    assert zh["current"] == "1.0.0" and zh["available"]["version"] == "1.1.0"
    assert (
        zh["available"]["notes"] == "1.1.0：续航更长" and zh["available"]["notes_lang"] == "zh-CN"
    )
    en = (await owner.client.get("/bands/BH-0001/firmware", params={"lang": "en"})).json()
    assert en["available"]["notes"] == "1.1.0: longer battery life" and en["reminded_at"]

    # postponed: no reminder until then
    r = await owner.client.post("/bands/BH-0001/firmware/update",
                                json={"action": "postpone", "postpone_days": 2})  # fmt: skip
    assert r.status_code == 202 and r.json()["postponed_until"]
    got = (await owner.client.get("/bands/BH-0001/firmware")).json()
    assert got["choice"]["choice"] == "postponed"

    # tonight: 02:00 in the band's time zone, the gateway holds it until then
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE bands SET time_zone = 'Asia/Shanghai' WHERE band_id = 'BH-0001'")
    r = await owner.client.post("/bands/BH-0001/firmware/update", json={"action": "tonight"})
    assert r.status_code == 202, r.text
    at = dt.datetime.fromisoformat(r.json()["scheduled_for"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (at.hour, at.minute) == (2, 0)

    def updates() -> list[dict]:
        return [p for p in listener.on("/BH-0001/cmd") if p["cmd"] == "firmware_update"]

    await eventually(updates, 10, "the update command")
    [cmd] = updates()
    assert cmd["id"] == r.json()["command_id"]
    assert cmd["args"]["not_before"] == pytest.approx(at.timestamp())
    image = base64.b64decode(cmd["args"]["image_b64"])
    assert dfu.sha256(image).hex() == cmd["args"]["sha256"] == release["sha256"]
    assert dfu.signature_ok(VENDOR_PUBLIC, image, bytes.fromhex(cmd["args"]["signature"]))

    # not while an alert is open
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
                     " VALUES ('BH-0001', 'fall', 'dispatched', now(), now())")  # fmt: skip
    r = await owner.client.post("/bands/BH-0001/firmware/update", json={"action": "now"})
    assert r.status_code == 409 and "open alert" in r.text
