"""The wearer's time zone: set in the band's settings, checked, and applied to alarms
(the band's clock runs in UTC)."""

from __future__ import annotations

import asyncio
import json


async def test_a_time_zone_is_an_iana_name(owner, settings):
    owner.own(settings.database_url, "BH-0001")
    r = await owner.client.patch("/bands/BH-0001", json={"time_zone": "Asia/Shanghai"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Asia/Shanghai"
    for bad in ("Mars/Olympus", "UTC+8", "", "../../etc/passwd"):
        r = await owner.client.patch("/bands/BH-0001", json={"time_zone": bad})
        assert r.status_code == 422 and "time_zone" in r.json()["error"]["message"], bad
    r = await owner.client.patch("/bands/BH-0001", json={"name": "Gran"})
    assert r.json()["time_zone"] == "Asia/Shanghai"  # untouched when not given
    assert r.json()["sedentary_reminder"] is True  # on unless turned off
    r = await owner.client.patch("/bands/BH-0001", json={"sedentary_reminder": False})
    assert r.json()["sedentary_reminder"] is False
    assert (await owner.client.get("/bands/BH-0001")).json()["sedentary_reminder"] is False


async def test_an_alarm_in_local_time_reaches_the_band_in_its_clock(owner, settings, band_commands):
    owner.own(settings.database_url, "BH-0001")
    await owner.client.patch("/bands/BH-0001", json={"time_zone": "Asia/Shanghai"})
    told = json.loads((await asyncio.wait_for(band_commands.get(), 10)).payload)
    # the gateway keeps the zone: the band's day (its step count) starts at local midnight
    assert (told["cmd"], told["args"]) == ("set_time_zone", {"zone": "Asia/Shanghai"})
    alarm = {"cmd": "set_alarm", "args": {"slot": 0, "time": "07:00", "days": ["mon", "tue"]}}
    assert (await owner.client.post("/bands/BH-0001/commands", json=alarm)).status_code == 202
    sent = json.loads((await asyncio.wait_for(band_commands.get(), 10)).payload)
    # 07:00 in Shanghai (UTC+8, no daylight saving) is 23:00 UTC the day before
    assert sent["args"] == {"slot": 0, "time": "23:00", "days": ["sun", "mon"]}
    bad = {"cmd": "set_alarm", "args": {"slot": 0, "time": "7 am"}}
    assert (await owner.client.post("/bands/BH-0001/commands", json=bad)).status_code == 422
