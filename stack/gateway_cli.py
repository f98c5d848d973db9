"""``bandhub gateway …``: run the gateway, see its status, scan, pair and unpair bands;
register gateways, bind bands to them and revoke them (bandhub.principals)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from bandhub.logging_setup import setup_logging
from stack.cli_support import fail as _fail
from stack.cli_support import run_until_signal

gateway_app = typer.Typer(help="The BLE gateway.", no_args_is_help=True)


@gateway_app.command("run")
def gateway_run() -> None:
    """Keep paired bands synced and forward their records to MQTT."""
    from urllib.parse import urlparse

    from bandhub.principals.credentials import gateway_broker_url
    from bandhub.settings import get_settings
    from gateway.backend import open_backend
    from gateway.pairing import bonds_file
    from gateway.service import run_gateway

    setup_logging()
    settings = get_settings()
    if not settings.mqtt_url:
        _fail("BANDHUB_MQTT_URL is not set: the gateway needs a broker (or use `bandhub demo`)")
    url = gateway_broker_url(settings.mqtt_url, settings.data_dir, settings.gateway_id)
    if settings.gateway_auth and not urlparse(url).username:
        typer.echo(
            f"no broker login for gateway {settings.gateway_id}: register it first"
            " (`bandhub gateway register`), or put one into BANDHUB_MQTT_URL",
            err=True,
        )

    async def main(stop: asyncio.Event) -> None:
        backend = await open_backend(settings.gateway_backend, bonds_file(settings))
        try:
            await run_gateway(settings, backend, stop)
        finally:
            await backend.close()

    run_until_signal(main)


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
    token: Annotated[
        str | None,
        typer.Option(
            envvar="BANDHUB_API_TOKEN",
            help="The owner's access token (POST /auth/token): claim the band for them",
        ),
    ] = None,
    claim_code: Annotated[str | None, typer.Option(help="The code printed on the box")] = None,
    passkey: Annotated[
        bool, typer.Option(help="The band shows a passkey: ask for it while pairing")
    ] = False,
) -> None:
    """Bond with a band, remember it, and claim it on the server for its owner."""
    from gateway.pairing import PairingError, pair_band

    if (token is None) != (claim_code is None):
        _fail("--token and --claim-code go together")

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
                settings, backend, address, api_token=token, claim_code=claim_code,
                passkey=ask_passkey if passkey else None,
            )  # fmt: skip
        finally:
            await backend.close()

    try:
        band_id = asyncio.run(main())
    except PairingError as exc:
        _fail(str(exc))
    claimed = ", claimed for the signed-in owner" if token else ""
    typer.echo(f"paired {band_id} ({address}){claimed}")
    _bind_paired(band_id, token)


def _bind_paired(band_id: str, token: str | None) -> None:
    """Pairing binds the band to this gateway: through the API when the owner's token
    is given and this gateway is registered to them (`gateway register --token`), else
    directly when this host can administer bandhub; else it says who has to."""
    from bandhub.principals.gateways import bind_band
    from bandhub.settings import get_settings
    from gateway import account_api

    settings = get_settings()
    if not settings.gateway_auth:
        return
    gw = settings.gateway_id
    if token:
        try:
            if asyncio.run(account_api.bind(settings, token, gw, band_id)):
                typer.echo(f"bound {band_id} to gateway {gw}")
                return
        except account_api.AccountApiError as exc:
            _fail(str(exc))
    if not (settings.database_url and settings.mqtt_admin_url):
        typer.echo(
            f"{band_id} is not bound to gateway {gw} yet: an operator runs"
            f" `bandhub gateway bind {gw} {band_id}`; until then its records stay on the band"
        )
        return
    with _principals(settings) as (conn, admin):
        bind_band(conn, admin, gw, band_id)
    typer.echo(f"bound {band_id} to gateway {gw}")


@contextlib.contextmanager
def _principals(settings):
    """A database connection and the broker admin, for the gateway-principal commands."""
    import psycopg

    from bandhub.contracts.messages import Topics
    from bandhub.db import migrate
    from bandhub.principals.dynsec import BrokerAdmin, DynSecError
    from bandhub.principals.gateways import GatewayError

    if not settings.database_url:
        _fail("BANDHUB_DATABASE_URL is not set")
    if not settings.mqtt_admin_url:
        _fail("BANDHUB_MQTT_ADMIN_URL is not set: the broker's dynamic-security admin login")
    migrate(settings.database_url)  # a fresh installation registers its gateway first
    try:
        with (
            psycopg.connect(settings.database_url, autocommit=True) as conn,
            BrokerAdmin(settings.mqtt_admin_url, Topics(settings.mqtt_topic_prefix)) as admin,
        ):
            yield conn, admin
    except (GatewayError, DynSecError) as exc:
        _fail(str(exc))


@gateway_app.command("register")
def gateway_register(
    gateway_id: Annotated[
        str | None, typer.Argument(help="Default: BANDHUB_GATEWAY_ID (this gateway)")
    ] = None,
    account: Annotated[int | None, typer.Option(help="The owner's account id")] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="BANDHUB_API_TOKEN",
            help="The owner's access token: register through the API (no admin access needed)",
        ),
    ] = None,
    show_url: Annotated[
        bool, typer.Option(help="Print the broker URL with the login, for another host")
    ] = False,
) -> None:
    """Give a gateway its own broker login (a new password if it has one) and save it
    where `bandhub gateway run` reads it (BANDHUB_DATA_DIR)."""
    from bandhub.principals import credentials
    from bandhub.principals.gateways import GatewayCredentials, register_gateway
    from bandhub.settings import get_settings
    from gateway import account_api

    settings = get_settings()
    gw = gateway_id or settings.gateway_id
    if token:
        if account is not None:
            _fail("--token registers to the token's account: leave out --account")
        try:
            login = asyncio.run(account_api.register(settings, token, gw))
        except account_api.AccountApiError as exc:
            _fail(str(exc))
        creds = GatewayCredentials(gw, login["mqtt_username"], login["mqtt_password"])
    else:
        with _principals(settings) as (conn, admin):
            creds = register_gateway(conn, admin, gw, account_id=account)
    path = credentials.save(settings.data_dir, gw, creds.username, creds.password)
    typer.echo(f"registered gateway {gw}: broker login {creds.username}, saved in {path}")
    if show_url:
        typer.echo(creds.url(settings.mqtt_url or "mqtt://HOST:1883"))


@gateway_app.command("bind")
def gateway_bind(gateway_id: str, band_id: str) -> None:
    """Let a gateway publish a band's records and receive its commands."""
    from bandhub.principals.gateways import bind_band
    from bandhub.settings import get_settings

    with _principals(get_settings()) as (conn, admin):
        new = bind_band(conn, admin, gateway_id, band_id)
    typer.echo(f"{band_id} {'bound' if new else 'was already bound'} to gateway {gateway_id}")


@gateway_app.command("unbind")
def gateway_unbind(gateway_id: str, band_id: str) -> None:
    """Take a band away from a gateway, at once."""
    from bandhub.principals.gateways import unbind_band
    from bandhub.settings import get_settings

    with _principals(get_settings()) as (conn, admin):
        was = unbind_band(conn, admin, gateway_id, band_id)
    typer.echo(f"{band_id} {'unbound from' if was else 'was not bound to'} gateway {gateway_id}")


@gateway_app.command("revoke")
def gateway_revoke(gateway_id: str) -> None:
    """Cut a gateway off for good: its login is deleted (it is disconnected now) and
    ingest refuses its records."""
    from bandhub.principals.gateways import revoke_gateway
    from bandhub.settings import get_settings

    with _principals(get_settings()) as (conn, admin):
        if not revoke_gateway(conn, admin, gateway_id):
            _fail(f"gateway {gateway_id} is not registered (or already revoked)")
    typer.echo(f"revoked gateway {gateway_id}")


@gateway_app.command("list")
def gateway_list() -> None:
    """Gateways bandhub knows, with their logins and bound bands."""
    import psycopg

    from bandhub.principals.gateways import list_gateways
    from bandhub.settings import get_settings

    settings = get_settings()
    if not settings.database_url:
        _fail("BANDHUB_DATABASE_URL is not set")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = list_gateways(conn)
    if not rows:
        typer.echo("no gateways")
    for g in rows:
        state = "revoked" if g.revoked_at else "registered" if g.registered_at else "not registered"
        typer.echo(f"{g.gateway_id:<16} {state:<14} bands: {', '.join(g.bands) or '-'}")


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
