"""The ``bandhub`` command: every process of the system is a subcommand.

Imports happen inside the commands so that ``bandhub analyze`` does not pay for the
BLE stack and ``bandhub sim`` does not need a database driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from bandhub.logging_setup import setup_logging

app = typer.Typer(
    help="bandhub: wristbands -> BLE gateway -> MQTT -> ingest -> PostgreSQL -> API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
gateway_app = typer.Typer(help="The BLE gateway.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")


def run_until_signal(main) -> None:
    """Run ``main(stop_event)`` until it returns or SIGINT/SIGTERM sets the event."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


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

    secret = get_settings().claim_secret
    for k in range(bands):  # what would be printed on each band's box
        typer.echo(f"BH-{k + 1:04d} claim code {claim_code(secret, f'BH-{k + 1:04d}')}")
    run_until_signal(lambda stop: serve_fleet(opts, hci, truth_file, stop))


@gateway_app.command("run")
def gateway_run() -> None:
    """Keep paired bands synced and forward their records to MQTT."""
    from bandhub.settings import get_settings
    from gateway.backend import open_backend
    from gateway.pairing import bonds_file
    from gateway.service import run_gateway

    setup_logging()
    settings = get_settings()
    if not settings.mqtt_url:
        _fail("BANDHUB_MQTT_URL is not set: the gateway needs a broker (or use `bandhub demo`)")

    async def main(stop: asyncio.Event) -> None:
        backend = await open_backend(settings.gateway_backend, bonds_file(settings))
        try:
            await run_gateway(settings, backend, stop)
        finally:
            await backend.close()

    run_until_signal(main)


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
    """Store records from MQTT in PostgreSQL, check the alert rules, deliver alerts."""
    from alerts.dispatcher import Dispatcher
    from alerts.monitor import MonitorService
    from bandhub.settings import get_settings
    from ingest.service import Ingest

    setup_logging()
    settings = get_settings()
    _require_services(settings)

    async def main(stop: asyncio.Event) -> None:
        service, monitor = Ingest(settings), MonitorService(settings)
        await asyncio.to_thread(service.start)
        monitor.start()
        try:
            await Dispatcher(settings).run(stop)
        finally:
            await asyncio.to_thread(monitor.stop)
            await asyncio.to_thread(service.stop)

    run_until_signal(main)


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


def _gateway_backend():
    from bandhub.settings import get_settings
    from gateway.backend import open_backend
    from gateway.pairing import bonds_file

    settings = get_settings()
    return settings, open_backend(settings.gateway_backend, bonds_file(settings))


@gateway_app.command("status")
def gateway_status(
    wait: Annotated[float, typer.Option(help="Seconds to collect retained statuses")] = 1.5,
) -> None:
    """Gateways and bands as their retained status topics on the broker say."""
    import json
    import time as _time
    import uuid

    from bandhub.contracts.messages import TopicKind, Topics
    from bandhub.mqtt import broker_address, mqtt_client
    from bandhub.settings import get_settings

    settings = get_settings()
    if not settings.mqtt_url:
        _fail("BANDHUB_MQTT_URL is not set")
    topics = Topics(settings.mqtt_topic_prefix)
    got: dict[TopicKind, list[dict]] = {TopicKind.GATEWAY_STATUS: [], TopicKind.BAND_STATUS: []}

    def on_message(_c, _u, m) -> None:
        got[topics.parse(m.topic).kind].append(json.loads(m.payload))

    # the same factory as every process: broker credentials and TLS apply here too
    client = mqtt_client(settings.mqtt_url, f"status-{uuid.uuid4().hex}")
    client.on_message = on_message
    host, port = broker_address(settings.mqtt_url)
    try:
        client.connect(host, port)
    except OSError as exc:
        _fail(f"cannot reach the broker at {host}:{port}: {exc}")
    client.subscribe([(topics.gateway_status_filter(), 1), (topics.band_status_filter(), 1)])
    client.loop_start()
    _time.sleep(wait)
    client.loop_stop()
    client.disconnect()
    for gw in sorted(got[TopicKind.GATEWAY_STATUS], key=lambda g: g["gateway_id"]):
        typer.echo(f"gateway {gw['gateway_id']}: {gw['state']}, bands {', '.join(gw['bands'])}")
    for b in sorted(got[TopicKind.BAND_STATUS], key=lambda b: b["band_id"]):
        link = "connected" if b["connected"] else "not connected"
        typer.echo(
            f"  {b['band_id']:<16} {link:<13} rssi {b.get('rssi_dbm')} dBm, battery "
            f"{b.get('battery_percent')} %, backlog {b.get('backlog')}, clock offset "
            f"{b.get('clock_offset_s')} s, reconnects {b.get('reconnects')}"
            + (f", last error: {b['last_error']}" if b.get("last_error") else "")
        )
    if not any(got.values()):
        typer.echo("nothing retained on the broker: no gateway has reported yet")


@gateway_app.command("scan")
def gateway_scan(seconds: Annotated[float, typer.Option(help="How long to listen")] = 5.0) -> None:
    """List bands and heart-rate devices nearby: address, name, signal strength."""
    from gateway.pairing import scan_nearby

    async def main() -> None:
        _settings, opening = _gateway_backend()
        backend = await opening
        try:
            found = await scan_nearby(backend, seconds)
        finally:
            await backend.close()
        if not found:
            typer.echo("no bands nearby (awake and in range?)")
        for n in found:
            rssi = f"{n.rssi} dBm" if n.rssi is not None else "?"
            typer.echo(f"{n.address}  {n.name or '-':<12} {rssi:>8}  {n.kind}")

    asyncio.run(main())


@gateway_app.command("pair")
def gateway_pair(
    address: Annotated[str, typer.Argument(help="The band's address (see `gateway scan`)")],
    owner: Annotated[str | None, typer.Option(help="Register the band to this user")] = None,
    claim_code: Annotated[str | None, typer.Option(help="The code printed on the box")] = None,
    passkey: Annotated[
        bool, typer.Option(help="The band shows a passkey: ask for it while pairing")
    ] = False,
) -> None:
    """Bond with a band, remember it, and claim it on the server for its owner."""
    from gateway.pairing import PairingError, pair_band

    if (owner is None) != (claim_code is None):
        _fail("--owner and --claim-code go together")

    async def ask_passkey() -> int:
        while True:  # the band waits while the user reads its screen
            typed = (await asyncio.to_thread(typer.prompt, "Passkey shown on the band")).strip()
            if typed.isdigit() and len(typed) <= 6:
                return int(typed)
            typer.echo("the passkey is the six digits on the band's screen")

    async def main() -> str:
        settings, opening = _gateway_backend()
        backend = await opening
        try:
            return await pair_band(
                settings, backend, address, owner=owner, claim_code=claim_code,
                passkey=ask_passkey if passkey else None,
            )  # fmt: skip
        finally:
            await backend.close()

    try:
        band_id = asyncio.run(main())
    except PairingError as exc:
        _fail(str(exc))
    claimed = f", registered to {owner}" if owner else ""
    typer.echo(f"paired {band_id} ({address}){claimed}")


@gateway_app.command("unpair")
def gateway_unpair(
    band: Annotated[str, typer.Argument(help="Band id or address")],
) -> None:
    """Forget a paired band: the gateway stops connecting to it (when pairing is required)."""
    from bandhub.settings import get_settings
    from gateway.pairing import unpair

    if not asyncio.run(unpair(get_settings(), band)):
        _fail(f"{band} is not paired with this gateway")
    typer.echo(f"unpaired {band}")


@gateway_app.command("paired")
def gateway_paired() -> None:
    """The bands paired with this gateway."""
    from bandhub.settings import get_settings
    from gateway.pairing import state_for

    state = state_for(get_settings())
    try:
        rows = state.paired()
    finally:
        state.close()
    if not rows:
        typer.echo("no paired bands")
    for address, band_id, name, _at in rows:
        typer.echo(f"{band_id:<16} {address}  {name}")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"bandhub: {message}", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
