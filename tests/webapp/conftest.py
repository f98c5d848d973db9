"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright, on the
real API the ``api`` fixture serves. Playwright's own browser download is not used."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser, api):
    """A phone-sized page in English; ``page.app`` is the app's URL."""
    context = await browser.new_context(base_url=str(api.base_url), locale="en-GB", viewport=PHONE)
    context.set_default_timeout(10_000)
    yield await context.new_page()
    await context.close()
