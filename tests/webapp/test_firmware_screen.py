"""The firmware update in the companion app, in a real browser on the real API: the
owner is told on Today, reads the notes in their language and chooses when; a
caregiver sees the offer and its progress but leaves the choice to the owner."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import psycopg
from playwright.async_api import Page, expect

from tests.api.test_firmware import release_body, runs
from tests.webapp.test_accessibility import _serious_violations
from tests.webapp.test_webapp import _caregiver, _sign_in


async def _release_to_all(support, version: str) -> None:
    added = await support.client.post("/firmware/releases", json=release_body(version))
    rollout = f"/firmware/releases/{added.json()['id']}/rollout"
    r = await support.client.put(rollout, json={"mode": "all"})
    assert r.status_code == 200, r.text


def _report_progress(url: str, band_id: str, update: dict) -> None:
    """The band's gateway reports the update under way, as ingest stores its status."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE band_status SET status = jsonb_set(status, '{update}', %s::jsonb)"
            " WHERE band_id = %s",
            (json.dumps(update), band_id),
        )


async def _choice(owner) -> dict:
    return (await owner.client.get("/bands/BH-0001/firmware")).json()["choice"]


async def test_the_owner_is_told_reads_the_notes_and_chooses_when(
    page: Page, owner, settings, support
):
    owner.own(settings.database_url, "BH-0001")
    runs(settings.database_url, ["BH-0001"])
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE bands SET name = 'Grandma Li', time_zone = 'Asia/Shanghai'")
    await _sign_in(page, owner.email)
    await page.goto("/app/#/settings/BH-0001")
    await expect(page.locator("#fw-current")).to_have_text(
        "The band runs version 1.0.0 (model BH-1)."
    )
    await expect(page.locator("#fw-offer")).to_have_text(re.compile("Up to date"))

    await _release_to_all(support, "1.1.0")
    await page.goto("/app/#/today/BH-0001")
    banner = page.locator("#fw-banner")
    await expect(banner).to_contain_text("Firmware update 1.1.0 is available.")
    await banner.get_by_role("link", name="See what's new").click()
    await expect(page.get_by_role("heading", name="Firmware")).to_be_in_viewport()
    await expect(page.locator("#fw-offer")).to_have_text("Update 1.1.0 is available (2 KiB).")
    await expect(page.locator("#fw-notes")).to_have_text("1.1.0: longer battery life")
    await expect(page.locator("#fw-progress")).to_have_count(0)  # none under way yet
    section = page.locator("section[aria-labelledby=fw-h]")
    await expect(section).not_to_contain_text("null")

    await page.get_by_role("button", name="Remind me in 3 days").click()
    await expect(page.locator("#fw-choice")).to_contain_text("Postponed: we remind you again on")
    choice = await _choice(owner)
    postponed = dt.datetime.fromisoformat(choice["postponed_until"])
    assert choice["choice"] == "postponed"
    assert postponed - dt.datetime.now(dt.UTC) > dt.timedelta(days=2, hours=23)

    await page.get_by_role("button", name="Tonight while it charges").click()
    await expect(page.locator("#fw-choice")).to_contain_text("The update will be installed at")
    choice = await _choice(owner)
    tonight = dt.datetime.fromisoformat(choice["scheduled_for"])
    tonight = tonight.astimezone(ZoneInfo("Asia/Shanghai"))
    assert choice["choice"] == "scheduled" and choice["command_id"]
    assert (tonight.hour, tonight.minute) == (2, 0)  # on the band's clock, not the browser's

    # at a time picked on the browser's clock (this context runs in UTC); none picked: said
    await page.get_by_role("button", name="Install at this time").click()
    await expect(page.get_by_role("alert")).to_have_text("Pick a date and time first.")
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    await page.get_by_label("Or at a time you choose").fill(when.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Install at this time").click()
    await expect(page.get_by_role("alert")).to_have_count(0)  # answered: the error is gone
    choice = await _choice(owner)
    assert dt.datetime.fromisoformat(choice["scheduled_for"]) == when
    await expect(page.locator("#fw-choice")).to_contain_text("The update will be installed at")

    # the gateway reports the transfer half done: the app shows it on the next visit
    _report_progress(settings.database_url, "BH-0001", {
        "version": "1.1.0", "state": "transferring", "offset": 24576, "size": 49152,
        "chunk": 240, "resumes": 1, "transfer_s": 0.4, "detail": "", "at": 1.8e9,
    })  # fmt: skip
    await page.reload()
    await expect(page.locator("#fw-progress")).to_have_text(
        "Update 1.1.0: being sent to the band · 50 % sent · 1 resumes after a dropped link"
    )
    assert await _serious_violations(page) == []  # the offer, its choices and progress
    # not during an open alert: the app says why
    with psycopg.connect(settings.database_url) as conn:
        alert_id = conn.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
            " VALUES ('BH-0001', 'fall', 'dispatched', now(), now()) RETURNING id"
        ).fetchone()[0]
    await page.get_by_role("button", name="Install now").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The band has an open alert: update it once the alert is resolved."
    )
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE alerts SET state = 'resolved' WHERE id = %s", (alert_id,))

    # in Chinese, the release notes are the vendor's Chinese ones
    await page.get_by_label("Language").select_option("zh-CN")
    await expect(page.locator("#fw-notes")).to_have_text("1.1.0：续航更长")
    await expect(page.locator("#fw-notes")).to_have_attribute("lang", "zh-CN")
    await expect(page.get_by_role("button", name="立即安装")).to_be_visible()
    await page.get_by_role("button", name="立即安装").click()
    await expect(page.locator("#fw-choice")).to_have_text("更新正在发送到手环。")
    choice = await _choice(owner)
    assert (choice["choice"], choice["scheduled_for"]) == ("now", None)

    # the band comes back running 1.1.0: the open page follows without a reload
    await page.evaluate("window.notReloaded = true")
    with psycopg.connect(settings.database_url) as conn:
        conn.execute('UPDATE band_status SET status = status || \'{"firmware": "1.1.0"}\'')
    _report_progress(settings.database_url, "BH-0001", {
        "version": "1.1.0", "state": "updated", "offset": 49152, "size": 49152, "chunk": 240,
        "resumes": 1, "transfer_s": 0.8, "detail": "runs 1.1.0", "at": 1.8e9,
    })  # fmt: skip
    progress = page.locator("#fw-progress")  # read again every 5 s: a period and a slow answer
    await expect(progress).to_contain_text("更新 1.1.0：已安装", timeout=15_000)
    await expect(page.locator("#fw-current")).to_have_text("手环当前固件版本 1.1.0（型号 BH-1）。")
    await expect(page.locator("#fw-offer")).to_have_text(re.compile("已是最新"))
    assert await page.evaluate("window.notReloaded") is True


async def test_a_caregiver_sees_the_offer_but_the_owner_chooses(
    page: Page, owner, settings, support
):
    await _caregiver(page, owner, settings, ["summaries"])
    runs(settings.database_url, ["BH-0001"])
    await _release_to_all(support, "1.2.0")
    await page.reload()
    banner = page.locator("#fw-banner")
    await expect(banner).to_contain_text("Firmware update 1.2.0 is available.")
    await banner.get_by_role("link", name="See what's new").click()  # no settings: support page
    await expect(page).to_have_url(re.compile(r"#/support/BH-0001\?at=fw-h$"))
    await expect(page.locator("#fw-notes")).to_have_text("1.2.0: longer battery life")
    owner_decides = page.get_by_text("Whoever looks after the band's settings chooses")
    await expect(owner_decides).to_be_visible()
    await expect(page.get_by_role("button", name="Install now")).to_have_count(0)
