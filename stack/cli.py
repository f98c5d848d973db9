"""The ``bandhub`` command: every process of the system is a subcommand.

Imports happen inside the commands so that ``bandhub analyze`` does not pay for the
BLE stack and ``bandhub sim`` does not need a database driver.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from bandhub.logging_setup import setup_logging
from stack.accounts_cli import accounts_app
from stack.broker_cli import broker_app
from stack.cli_support import fail as _fail
from stack.cli_support import run_until_signal
from stack.firmware_cli import firmware_app
from stack.gateway_cli import gateway_app

app = typer.Typer(
    help="bandhub: wristbands -> BLE gateway -> MQTT -> ingest -> PostgreSQL -> API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(gateway_app, name="gateway")
app.add_typer(accounts_app, name="accounts")
app.add_typer(broker_app, name="broker")
app.add_typer(firmware_app, name="firmware")


@app.command()
def sim(
    bands: Annotated[int, typer.Option(help="How many bands")] = 3,
    hci: Annotated[
        str, typer.Option(help="HCI transport the gateway connects to")
    ] = "tcp-server:127.0.0.1:9100",
    speed: Annotated[float, typer.Option(help="Band clocks run this many times real time")] = 1.0,
    start: Annotated[
        str | None, typer.Option(help="Band clock at start, ISO 8601 UTC (default: now)")
    ] = None,
    days: Annotated[float | None, typer.Option(help="Stop making records after N days")] = None,
    fall_at: Annotated[
        str | None, typer.Option(help="HH:MM (band clock) when band 1's wearer falls; 'none'")
    ] = "15:30",
    seed: int = 1,
    truth_file: Annotated[Path | None, typer.Option(help="Write ground truth JSON here")] = None,
    drop_links_every: Annotated[
        float | None, typer.Option(help="Chaos: drop a random band's link about every S seconds")
    ] = None,
    passkey: Annotated[
        bool, typer.Option(help="Bands show a passkey when pairing (no Just Works bonds)")
    ] = False,
) -> None:
    """Run simulated bands (real BLE peripherals on bumble) on a virtual radio."""
    from firmware_sim.runner import FleetOptions, serve_fleet

    setup_logging()
    opts = FleetOptions(
        count=bands,
        start=_parse_start(start),
        days=days,
        speed=speed,
        seed=seed,
        fall_band=None if fall_at in (None, "none") else 0,
        fall_at_s=_parse_hhmm(fall_at) if fall_at not in (None, "none") else 0,
        drop_links_every_s=drop_links_every,
        passkey=passkey,
    )
    from bandhub.claims import claim_code
    from bandhub.settings import get_settings

    if vendor := get_settings().firmware_public_key:  # the bands accept images it signed
        opts.vendor_key = bytes.fromhex(vendor)

    secret = get_settings().claim_secret
    for k in range(bands):  # what would be printed on each band's box
        typer.echo(f"BH-{k + 1:04d} claim code {claim_code(secret, f'BH-{k + 1:04d}')}")
    run_until_signal(lambda stop: serve_fleet(opts, hci, truth_file, stop))


def _require_services(settings) -> None:
    missing = [
        name
        for name, value in (
            ("BANDHUB_DATABASE_URL", settings.database_url),
            ("BANDHUB_MQTT_URL", settings.mqtt_url),
        )
        if not value
    ]
    if missing:
        _fail(f"{' and '.join(missing)} not set (or use `bandhub demo` for embedded services)")


@app.command()
def ingest() -> None:
    """Store records from MQTT in PostgreSQL, check the alert rules, deliver alerts, keep
    the daily summaries current."""
    from alerts.dispatcher import Dispatcher
    from alerts.monitor import MonitorService
    from api.summary_refresh import SummaryRefresher
    from bandhub.settings import get_settings
    from ingest.service import Ingest

    setup_logging()
    settings = get_settings()
    _require_services(settings)

    async def main(stop: asyncio.Event) -> None:
        service, monitor = Ingest(settings), MonitorService(settings)
        refresher = SummaryRefresher(settings)
        await asyncio.to_thread(service.start)
        if service.slot == 0:  # one alert monitor for all workers (see README, Known limits)
            monitor.start()
            refresher.start()  # and one summary refresher (docs/scaling.md)
        try:
            await Dispatcher(settings).run(stop)
        finally:
            await asyncio.to_thread(refresher.stop)
            await asyncio.to_thread(monitor.stop)
            await asyncio.to_thread(service.stop)

    run_until_signal(main)


@app.command("ha-discovery")
def ha_discovery() -> None:
    """Show the bands their owners exposed in Home Assistant (MQTT discovery)."""
    from bandhub.settings import get_settings
    from ha_discovery.service import HaDiscovery

    setup_logging()
    settings = get_settings()
    _require_services(settings)
    if not settings.ha_discovery:
        _fail("BANDHUB_HA_DISCOVERY is off (docs/home-assistant.md)")
    run_until_signal(lambda stop: HaDiscovery(settings).run(stop))


@app.command()
def api() -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    from api.server import serve_api
    from bandhub.db import migrate
    from bandhub.settings import get_settings

    setup_logging()
    settings = get_settings()
    if not settings.database_url:
        _fail("BANDHUB_DATABASE_URL is not set (or use `bandhub demo` for embedded services)")
    migrate(settings.database_url)
    typer.echo(f"bandhub API on http://{settings.api_host}:{settings.api_port}/docs")
    run_until_signal(lambda stop: serve_api(settings, stop))


@app.command()
def demo(
    bands: Annotated[int, typer.Option(help="How many simulated bands")] = 3,
    days: Annotated[float | None, typer.Option(help="Simulate this many days")] = None,
    speed: Annotated[float, typer.Option(help="Band clocks run this many times real time")] = 1440,
    exit_: Annotated[
        bool, typer.Option("--exit", help="Finish the day, print summaries and exit")
    ] = False,
    date: Annotated[
        str | None, typer.Option(help="First simulated day, YYYY-MM-DD (default: yesterday)")
    ] = None,
    fall_at: Annotated[str, typer.Option(help="HH:MM when band 1's wearer falls")] = "15:30",
) -> None:
    """Run the whole system on embedded defaults (simulated bands to API)."""
    from bandhub.settings import get_settings
    from stack.demo import DemoOptions, run_demo

    setup_logging("WARNING")
    opts = DemoOptions(
        bands=bands,
        days=days,
        speed=speed,
        exit_when_done=exit_,
        date=_parse_start(date).date() if date else None,
        fall_at=fall_at,
    )
    result: list[int] = []

    async def main(stop: asyncio.Event) -> None:
        result.append(await run_demo(get_settings(), opts, stop))

    run_until_signal(main)
    raise typer.Exit(result[0] if result else 1)


@app.command()
def analyze(
    kind: Annotated[str, typer.Argument(help="falls, steps, hr, hrv or sleep")],
    files: Annotated[list[Path], typer.Argument(help="CSV recordings (plain or .gz)")],
    fs: Annotated[float | None, typer.Option(help="Sampling rate in Hz (default: from t)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per file")] = False,
) -> None:
    """Analyse recordings offline with the same functions ingest uses."""
    from analytics.cli import run_analyze

    raise typer.Exit(run_analyze(kind, files, fs, json_out))


def _parse_start(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--start {value!r} is not an ISO 8601 date or datetime")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _parse_hhmm(value: str) -> int:
    try:
        hours, minutes = value.split(":")
        return int(hours) * 3600 + int(minutes) * 60
    except ValueError:
        _fail(f"expected HH:MM, got {value!r}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
