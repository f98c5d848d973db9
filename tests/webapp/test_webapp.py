"""The companion app in a real browser, on the real API: what a wearer's family sees."""

from __future__ import annotations

import datetime as dt
import re

import psycopg
from playwright.async_api import Page, expect

from alerts import links
from bandhub import claims
from tests.api.test_alert_stream import _fall
from tests.api.test_sharing import _invitation_code
from tests.days import DAY, WALK_MINUTES, WALK_STEPS_PER_MIN, seed_day
from tests.people import PASSWORD, add_account


async def _sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/app/#/signin")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My wearers")).to_be_visible()


async def test_sign_up_then_sign_out_and_in_again(page: Page):
    await page.goto("/app/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_role("link", name="No account yet? Sign up").click()
    await page.get_by_label("Your name").fill("Mei")
    await page.get_by_label("E-mail address").fill("mei@example.com")
    await page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="My wearers")).to_be_visible()
    await expect(page.get_by_text("No wearers yet")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("E-mail address").fill("mei@example.com")
    await page.get_by_label("Password").fill("not her password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(re.compile("Wrong e-mail address"))
    await _sign_in(page, "mei@example.com")


async def test_claim_a_band_and_see_today_as_the_api_sums_it_up(page: Page, owner, settings):
    seed_day(settings.database_url)
    await _sign_in(page, owner.email)
    await page.get_by_label("Band number (on the box)").fill("BH-0001")
    await page.get_by_label("Claim code (on the box)").fill("WRONG-CODE")
    await page.get_by_role("button", name="Add band").click()
    await expect(page.get_by_role("alert")).to_have_text(re.compile("does not match"))
    code = claims.claim_code(settings.claim_secret, "BH-0001")
    await page.get_by_label("Claim code (on the box)").fill(code)
    await page.get_by_role("button", name="Add band").click()
    await expect(page.get_by_role("heading", name="Today: Grandma Li")).to_be_visible()

    # an expired access token: the app renews it with the refresh token and carries on
    await page.evaluate(
        """() => { const t = JSON.parse(sessionStorage.getItem("bandhub.tokens"));
        sessionStorage.setItem("bandhub.tokens", JSON.stringify({...t, access_token: "x"})); }"""
    )
    profile = {"height_cm": 165, "weight_kg": 60, "birth_year": 1956, "sex": "female"}
    assert (await owner.client.patch("/bands/BH-0001", json=profile)).status_code == 200
    await page.get_by_label("Day", exact=True).fill(str(DAY))
    await expect(page).to_have_url(re.compile(f"date={DAY}"))
    s = (await owner.client.get("/bands/BH-0001/summary", params={"date": str(DAY)})).json()
    assert (
        s["steps"] == WALK_MINUTES * WALK_STEPS_PER_MIN and s["hrv"] is not None
    )  # the seed is what it says
    hr = s["heart_rate"]
    expected = {
        "#steps": f"{s['steps']:,}",
        "#hr-min": str(hr["min"]),
        "#hr-avg": f"{hr['avg']:.1f}".removesuffix(".0"),
        "#hr-max": str(hr["max"]),
        "#hr-resting": "—" if hr["resting"] is None else str(hr["resting"]),  # — : none
        "#falls": "0",
        "#coverage": f"{round(s['coverage'] * 100)} %",
        "#sleep-total": f"{s['sleep']['minutes'] // 60} h {s['sleep']['minutes'] % 60} min",
        "#sleep-awakenings": str(s["sleep"]["awakenings"]),
        "#hrv-rmssd": f"{round(s['hrv']['rmssd_ms'])} ms",
    }
    a, sleep = s["activity"], s["sleep"]
    expected |= {
        "#distance": f"{a['distance_m'] / 1000:.2f} km",
        "#active-minutes": str(a["active_minutes"]),
        "#calories": f"{a['total_kcal']:,} kcal",
    }
    for selector, text in expected.items():
        await expect(page.locator(selector)).to_have_text(text)
    zones = page.locator("#hr-zones li")  # time in zone, each bar named in text
    await expect(zones).to_have_count(5)
    busiest = max(s["hr_zones"]["zones"], key=lambda z: z["minutes"])
    await expect(zones.nth(busiest["zone"] - 1)).to_contain_text(
        f"{busiest['minutes'] // 60} h {busiest['minutes'] % 60} min"
    )
    blocks = page.locator("#hypnogram rect[data-stage]")  # one block per run of the night
    await expect(blocks).to_have_count(len(sleep["hypnogram"]))
    await expect(page.locator("#sleep-advice")).to_contain_text(
        "less than the 7–8 h recommended for adults over 65"  # 6 h, born in 1956
    )
    goal = page.get_by_label(f"Steps: {s['steps']:,} of 8,000")
    await expect(goal).to_have_attribute("value", "8000")  # met: the bar is full
    await expect(page.get_by_role("heading", name="Sleep stages (estimate)")).to_be_visible()
    await expect(page.locator(".uplot canvas")).to_have_count(1)  # the day's heart-rate chart


async def _caregiver(page: Page, owner, settings, scopes: list[str]) -> None:
    """Bo, invited by Ann with ``scopes``, accepts in the app with the e-mail's code."""
    owner.own(settings.database_url, "BH-0001")
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE bands SET name = 'Grandma Li', last_seen = now()")
    add_account(settings.database_url, "bo@example.com")
    invite = {"email": "bo@example.com", "role": "caregiver", "scopes": scopes}
    assert (await owner.client.post("/bands/BH-0001/shares", json=invite)).status_code == 201
    code = _invitation_code(settings, "BH-0001", "bo@example.com")
    await _sign_in(page, "bo@example.com")
    await page.get_by_label("Invitation code (from the e-mail)").fill(code)
    await page.get_by_role("button", name="Accept").click()
    await expect(page.get_by_role("heading", name="Today: Grandma Li")).to_be_visible()


async def test_an_invited_caregiver_sees_the_wearer_and_a_fall_live(page, owner, settings):
    """Bo's tile for the wearer; then a fall appears on his open Alerts page without a
    reload, and he resolves it there."""
    await _caregiver(page, owner, settings, ["summaries", "alerts"])
    await page.get_by_role("link", name="My wearers").click()
    tile = page.locator("li[data-band='BH-0001']")
    await expect(tile).to_contain_text("Grandma Li")
    await expect(tile).to_contain_text("OK")  # seen just now, no alert
    await expect(page.locator("li[data-band]")).to_have_count(1)
    await page.get_by_role("link", name="Alerts").click()
    await expect(page.get_by_text("No alerts.")).to_be_visible()
    await expect(page.get_by_text("Live: new alerts appear")).to_be_visible()
    await page.evaluate("window.notReloaded = true")
    _fall(settings.database_url, "BH-0001", 1)
    row = page.locator("li[data-alert]")
    await expect(row).to_contain_text("Fall — Grandma Li", timeout=5_000)
    await expect(row).to_contain_text("Counting down")
    assert await page.evaluate("window.notReloaded") is True
    await page.get_by_label("Outcome").select_option("false_alarm")
    await page.get_by_role("button", name="Resolve").click()
    await expect(row).to_contain_text("Resolved")
    alert = (await owner.client.get("/alerts")).json()[0]
    assert (alert["state"], alert["band_id"]) == ("resolved", "BH-0001")


async def test_the_owner_manages_contacts_sharing_and_the_wearers_settings(page, owner, settings):
    owner.own(settings.database_url, "BH-0001")
    await _sign_in(page, owner.email)
    await page.goto("/app/#/settings/BH-0001")
    await page.get_by_label("Time zone").select_option("Asia/Shanghai")
    await page.get_by_label("Fall countdown").fill("45")
    await page.get_by_role("form", name="Wearer").get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    profile = page.get_by_role("form", name="Profile and goals")
    await profile.get_by_label("Height (cm)").fill("158")
    await profile.get_by_label("Year of birth").fill("1950")
    await profile.get_by_label("Sex (for the energy formulas)").select_option("female")
    await profile.get_by_label("Daily step goal").fill("6000")
    await profile.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_have_count(2)
    await page.get_by_label("Contact's name").fill("Bo")
    await page.get_by_label("E-mail address or webhook URL").fill("bo@example.com")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.get_by_text("1. Bo — bo@example.com")).to_be_visible()
    await page.get_by_label("Contact's name").fill("Di")
    await page.get_by_label("E-mail address or webhook URL").fill("di@example.com")
    adding = page.get_by_role("form", name="Add contact")
    await adding.get_by_label("Quiet from").fill("22:00")
    await adding.get_by_label("Quiet until").fill("07:00")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.get_by_text("2. Di — di@example.com · quiet 22:00–07:00")).to_be_visible()
    await page.get_by_role("button", name="Move Di up (alerted earlier)").click()
    await expect(page.get_by_text("1. Di — di@example.com")).to_be_visible()
    contacts = (await owner.client.get("/bands/BH-0001/contacts")).json()
    assert [c["name"] for c in sorted(contacts, key=lambda c: c["position"])] == ["Di", "Bo"]
    # quiet hours changed in place: set Bo's, take Di's away
    await page.locator("li[data-contact]").nth(1).get_by_text("Quiet hours", exact=True).click()
    bo = page.get_by_role("form", name="Quiet hours of Bo")
    await bo.get_by_label("Quiet from").fill("21:00")
    await bo.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Give both times, or leave both empty.")).to_be_visible()
    await bo.get_by_label("Quiet until").fill("06:30")
    await bo.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("2. Bo — bo@example.com · quiet 21:00–06:30")).to_be_visible()
    await page.locator("li[data-contact]").first.get_by_text("Quiet hours", exact=True).click()
    di = page.get_by_role("form", name="Quiet hours of Di")
    await di.get_by_label("Quiet from").fill("")
    await di.get_by_label("Quiet until").fill("")
    await di.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("1. Di — di@example.com", exact=True)).to_be_visible()
    quiet = {c["name"]: (c["quiet_start"], c["quiet_end"])
             for c in (await owner.client.get("/bands/BH-0001/contacts")).json()}  # fmt: skip
    assert quiet == {"Di": (None, None), "Bo": ("21:00:00", "06:30:00")}
    await page.get_by_role("button", name="Send a test alert").click()
    await expect(page.get_by_text("Test alert sent to every contact.")).to_be_visible()
    invite = page.get_by_role("form", name="Invite family or a caregiver")
    await invite.get_by_label("E-mail address").fill("cy@example.com")
    await invite.get_by_role("button", name="Send invitation").click()
    await expect(page.get_by_text(re.compile("cy@example.com — invited"))).to_be_visible()

    band = (await owner.client.get("/bands/BH-0001")).json()
    assert (band["time_zone"], band["fall_countdown_s"]) == ("Asia/Shanghai", 45)
    assert (band["height_cm"], band["birth_year"], band["sex"]) == (158, 1950, "female")
    assert (band["weight_kg"], band["step_goal"], band["sleep_goal_min"]) == (None, 6000, None)
    shares = (await owner.client.get("/bands/BH-0001/shares")).json()
    assert [(s["email"], sorted(s["scopes"])) for s in shares] == [
        ("cy@example.com", ["alerts", "summaries"])
    ]
    await page.get_by_role("button", name="Revoke").click()
    await expect(page.get_by_text("Not shared with anyone.")).to_be_visible()
    await page.get_by_role("button", name="Delete").first.click()
    await expect(page.get_by_text("1. Bo — bo@example.com")).to_be_visible()
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No emergency contacts yet.")).to_be_visible()
    assert (await owner.client.get("/bands/BH-0001/contacts")).json() == []

    ha = page.get_by_role("form", name="Home Assistant")
    await ha.get_by_label("Show in Home Assistant").check()
    await ha.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("The band shows in Home Assistant.")).to_be_visible()
    shown = (await owner.client.get("/bands/BH-0001/home-assistant")).json()
    assert (shown["exposed"], shown["health"]) == (True, False)  # health only when ticked


async def test_switching_to_chinese_translates_the_app(page: Page, owner):
    await _sign_in(page, owner.email)
    await page.get_by_label("Language").select_option("zh-CN")
    await expect(page.get_by_role("heading", name="我的佩戴者")).to_be_visible()
    await expect(page.get_by_role("link", name="警报")).to_be_visible()
    await expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await page.reload()  # the choice is kept
    await expect(page.get_by_role("heading", name="绑定手环")).to_be_visible()


async def test_the_acknowledgement_link_opens_a_readable_page(browser, api, owner, settings):
    owner.own(settings.database_url, "BH-0001")
    contact = {"name": "Bo", "channel": "email", "email": "bo@example.com"}
    contact_id = (await owner.client.post("/bands/BH-0001/contacts", json=contact)).json()["id"]
    _fall(settings.database_url, "BH-0001", 1)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE bands SET name = 'Grandma Li', time_zone = 'Asia/Shanghai'")
        alert_id = conn.execute("UPDATE alerts SET state = 'dispatched' RETURNING id").fetchone()[0]
        key = conn.execute("SELECT value FROM server_keys WHERE name = 'ack_link'").fetchone()[0]
    url = links.ack_url(str(api.base_url), key, alert_id, contact_id)
    context = await browser.new_context(locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(url)
        await expect(page.get_by_role("heading")).to_have_text("Grandma Li 可能需要帮助")
        await page.get_by_role("button", name="我马上就到").click()
        await expect(page.get_by_role("heading")).to_have_text("✓ 谢谢：您正在赶往现场")
        await expect(page.locator("dl")).to_contain_text("Grandma Li")
        await expect(page.locator("dl")).to_contain_text("跌倒")
        await expect(page.locator("dl")).to_contain_text("Asia/Shanghai")
        await page.goto(url.replace("sig=", "sig=0"))  # a damaged link
        await expect(page.get_by_role("heading")).to_have_text("该链接无法使用")
    finally:
        await context.close()
    alert = (await owner.client.get(f"/alerts/{alert_id}")).json()
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == contact_id


async def test_trends_and_a_family_step_challenge(page: Page, owner, settings):
    """The month's trend of a wearer as the API gives it; then a step challenge between
    two wearers, started in the app, with its leaderboard."""
    seed_day(settings.database_url)
    seed_day(settings.database_url, "BH-0002", "Grandpa Wu", walk_minutes=60)
    owner.own(settings.database_url, "BH-0001", "BH-0002")
    await _sign_in(page, owner.email)
    await page.goto("/app/#/trends/BH-0001")
    await expect(page.get_by_role("heading", name="Trends: Grandma Li")).to_be_visible()
    await page.get_by_role("link", name="Month").click()
    await expect(page.get_by_role("link", name="Month")).to_have_attribute("aria-current", "page")
    month = (await owner.client.get("/bands/BH-0001/trends", params={"period": "month"})).json()
    known = [d["steps"] for d in month["days"] if d["steps"] is not None]
    assert known, "the seeded day is in the month"
    average = f"{round(sum(known) / len(known)):,}"
    await expect(page.locator("#trend-steps")).to_have_text(f"Average: {average} steps a day.")
    fields = ("steps", "resting_hr_bpm", "sleep_minutes", "hrv_sdnn_ms")
    charted = [f for f in fields if any(d[f] is not None for d in month["days"])]
    await expect(page.locator(".uplot")).to_have_count(len(charted))  # the rest: "no data"
    await expect(page.get_by_text("No data in this period.")).to_have_count(4 - len(charted))

    await page.get_by_role("link", name="Challenges").click()
    await expect(page.get_by_text("No challenges yet.")).to_be_visible()
    await page.get_by_label("First day").fill(str(DAY))
    await page.get_by_label("Last day (at most 31 days)").fill(str(DAY + dt.timedelta(days=6)))
    await page.get_by_role("button", name="Start the challenge").click()
    board = page.get_by_role("list", name="Leaderboard")
    await expect(board.locator("li")).to_have_count(2)
    await expect(board.locator("li").first).to_contain_text("No. 1")
    await expect(board.locator("li").first).to_contain_text("Grandma Li")
    await expect(board.locator("li").nth(1)).to_contain_text("Grandpa Wu")
