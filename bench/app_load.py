"""Page-load time of the companion app in Debian's headless Chromium: "Today" of a
wearer with a week of data (until its figures and heart-rate chart are drawn) and the
care view of a care home's staff member with WEARERS wearers (until every tile is
shown, and until every tile has its battery level). Median of RUNS loads each, after
one warm-up; each load is a full page load (the app's files may come from the
browser's cache, as for a returning user).

    python bench/app_load.py [--runs 7] [--wearers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright

from bench.app_world import app_world

CHROMIUM = "/usr/bin/chromium"
BASELINE_MS = {"today": 1000, "care_tiles": 1000, "care_batteries": 3000}  # what we aim under


async def _sign_in(page, email: str, password: str) -> None:
    await page.goto("/app/#/signin")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_selector("li[data-band], main p")


async def _time(page, url: str, ready: list[str]) -> list[float]:
    """Milliseconds from navigation to each ``ready`` selector appearing. The same tab
    each time: the app keeps its tokens in the tab's sessionStorage."""
    await page.goto("about:blank")
    start = time.perf_counter()
    await page.goto(url)
    marks = []
    for selector in ready:
        await page.wait_for_selector(selector, state="attached", timeout=60_000)
        marks.append((time.perf_counter() - start) * 1000)
    return marks


async def main(runs: int, wearers: int) -> None:
    async with app_world(wearers) as world, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        results: dict[str, list[float]] = {k: [] for k in BASELINE_MS}
        family = await browser.new_context(base_url=world.base_url, locale="en-GB")
        page = await family.new_page()
        await _sign_in(page, world.owner, world.password)
        today = ["#steps", "#hypnogram", ".uplot canvas"]
        for k in range(runs + 1):
            marks = await _time(page, f"{world.base_url}/app/#/today/BH-0001", today)
            if k:
                results["today"].append(marks[-1])
        care = await browser.new_context(base_url=world.base_url, locale="en-GB")
        page = await care.new_page()
        await _sign_in(page, world.staff, world.password)
        tiles = [
            f"li[data-band]:nth-child({wearers})",
            f"li[data-band] >> text=/Battery/ >> nth={wearers - 1}",
        ]
        for k in range(runs + 1):
            marks = await _time(page, f"{world.base_url}/app/#/wearers", tiles)
            if k:
                results["care_tiles"].append(marks[0])
                results["care_batteries"].append(marks[1])
        await browser.close()
    print(f"app load, median of {runs} loads (Chromium headless, this machine):")
    for name, values in results.items():
        median = statistics.median(values)
        print(
            f"  {name:15s} {median:7.0f} ms   (min {min(values):.0f}, max {max(values):.0f};"
            f" aim under {BASELINE_MS[name]} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--wearers", type=int, default=200)
    opts = parser.parse_args()
    asyncio.run(main(opts.runs, opts.wearers))
