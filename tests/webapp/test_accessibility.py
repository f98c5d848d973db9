"""axe-core (vendored: tests/webapp/vendor/axe-core) on the app's main pages, in both
sizes people use: no serious or critical violation. And the support view, which shows
a band's link and battery and no health data, for bandhub support."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from playwright.async_api import Page, expect

from tests.days import DAY, seed_day
from tests.people import add_account
from tests.webapp.test_webapp import _sign_in

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PAGES = [
    ("#/wearers", "My wearers"),
    (f"#/today/BH-0001?date={DAY}", "Today: Grandma Li"),
    ("#/trends/BH-0001?period=month", "Trends: Grandma Li"),
    ("#/challenges", "Step challenges"),
    ("#/alerts", "Alerts"),
    ("#/settings/BH-0001", "Settings: Grandma Li"),
    ("#/support/BH-0001", "Diagnostics: BH-0001"),
]


async def _serious_violations(page: Page) -> list[str]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _link_status(url: str) -> None:
    status = {
        "v": 1, "band_id": "BH-0001", "gateway_id": "gw-home", "connected": True,
        "at": 1795532400.0, "firmware": "1.0.7", "battery_percent": 84,
        "clock_offset_s": -0.412, "backlog": 0, "reconnects": 2, "last_error": "",
        "history": [{"at": 1795532100.0, "event": "disconnected", "detail": "out of range"},
                    {"at": 1795532400.0, "event": "connected", "detail": ""}],
    }  # fmt: skip
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO band_status (band_id, gateway_id, status) VALUES ('BH-0001', 'gw', %s)"
            " ON CONFLICT (band_id) DO UPDATE SET status = EXCLUDED.status",
            (json.dumps(status),),
        )
        for hour in range(6):
            conn.execute(
                "INSERT INTO battery VALUES ('BH-0001', %s, now() - make_interval(hours => %s),"
                " %s, now()) ON CONFLICT DO NOTHING",
                (hour, hour, 90 - hour * 5),
            )


async def test_the_main_pages_have_no_serious_accessibility_violations(page, owner, settings):
    seed_day(settings.database_url)
    owner.own(settings.database_url, "BH-0001")
    _link_status(settings.database_url)
    await owner.client.patch("/bands/BH-0001", json={"birth_year": 1950, "height_cm": 160})
    await _sign_in(page, owner.email)
    found = {}
    for hash_, title in PAGES:
        for size in ({"width": 390, "height": 844}, {"width": 1280, "height": 900}):
            await page.set_viewport_size(size)
            await page.goto(f"/app/{hash_}")
            await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
            await expect(page.locator("main[aria-busy]")).to_have_count(0)
            if violations := await _serious_violations(page):
                found[f"{hash_} at {size['width']} px"] = violations
    assert not found, found


async def test_support_sees_the_link_and_battery_but_no_health_data(page, settings):
    seed_day(settings.database_url)
    _link_status(settings.database_url)
    add_account(settings.database_url, "help@example.com", support=True)
    await _sign_in(page, "help@example.com")
    await page.locator("li[data-band='BH-0001'] a").click()
    await expect(page.get_by_role("heading", name="Diagnostics: BH-0001")).to_be_visible()
    await expect(page.locator("#diag-firmware")).to_have_text("1.0.7")
    await expect(page.locator("#diag-drift")).to_have_text("-0.412 s")
    history = page.locator("#diag-history li")
    await expect(history).to_have_count(2)
    await expect(history.first).to_contain_text("connected")
    await expect(history.nth(1)).to_contain_text("out of range")
    await expect(page.locator(".uplot")).to_have_count(1)  # the battery curve
    await page.goto("/app/#/today/BH-0001")
    await expect(page.get_by_text("may not see")).to_be_visible()  # no summaries scope
