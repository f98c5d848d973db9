"""Screenshots of the app's main pages (phone 390x844 and desktop 1280x900) with
Debian's headless Chromium, as small PNGs for the README (docs/screenshots).

    python bench/screenshots.py [--url URL --email E --password P] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright

from bench.app_world import World, app_world

CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"today", "care-view"}  # the rest at phone size only: the PNGs stay few and small
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
# (file name, hash, who signs in, language)
PAGES = [
    ("today", "#/today/BH-0001", "owner", "en"),
    ("trends", "#/trends/BH-0001?period=week", "owner", "en"),
    ("challenges", "#/challenges", "owner", "en"),
    ("settings", "#/settings/BH-0001", "owner", "en"),
    ("firmware", "#/settings/BH-0001?at=fw-h", "owner", "en"),
    ("care-view", "#/wearers", "staff", "en"),
    ("today-zh", "#/today/BH-0001", "owner", "zh-CN"),
]


def _shrink(path: Path) -> None:
    """A 128-colour palette: a third of the size, no visible loss on UI screenshots
    (when Pillow is installed; else the PNG stays as Chromium wrote it)."""
    try:
        from PIL import Image
    except ImportError:
        return
    image = Image.open(path).convert("RGB")
    image.quantize(colors=128, dither=Image.Dither.NONE).save(path, optimize=True)


@asynccontextmanager
async def _running(opts):
    if opts.url:
        yield World(opts.url.rstrip("/"), password=opts.password, owner=opts.email,
                    staff=opts.staff_email or opts.email)  # fmt: skip
    else:
        async with app_world(200) as world:
            yield world


async def main(opts) -> None:
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    async with _running(opts) as world, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, hash_, who, lang in PAGES:
            for size_name, size in SIZES.items():
                if size_name == "desktop" and name not in DESKTOP:
                    continue
                context = await browser.new_context(
                    base_url=world.base_url, locale=lang, viewport=size, device_scale_factor=1
                )
                page = await context.new_page()
                await page.add_init_script(f"localStorage.setItem('bandhub.lang', '{lang}')")
                await page.goto("/app/#/signin")
                await page.fill("#email", getattr(world, who))
                await page.fill("#password", world.password)
                await page.click("button[type=submit]")
                await page.wait_for_selector("li[data-band]")
                await page.goto(f"/app/{hash_}")
                await page.wait_for_selector("main:not([aria-busy])")
                await page.wait_for_timeout(1500)  # late parts: batteries, streaks, charts
                path = out / f"{name}-{size_name}.png"
                full = name.startswith("today")  # its charts are below the fold
                await page.screenshot(path=str(path), full_page=full, animations="disabled")
                _shrink(path)
                print(path, path.stat().st_size // 1024, "KiB")
                await context.close()
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running bandhub (else a populated throwaway one)")
    parser.add_argument("--email", help="the owner's login (scripts/demo prints it)")
    parser.add_argument("--staff-email", help="a care home staff login, for the care view")
    parser.add_argument("--password")
    parser.add_argument("--out", default="docs/screenshots")
    asyncio.run(main(parser.parse_args()))
