"""Pairing as users do it: list bands nearby, bond with the chosen one, remember it,
and register it with the server under its owner with the claim code from its box.

``bandhub gateway scan | pair | unpair | paired`` call these. With
``BANDHUB_GATEWAY_PAIRED_ONLY=true`` the gateway then connects to paired bands only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bleak import BleakClient, BleakScanner

from bandhub.bumble_keys import BlindJsonKeyStore
from bandhub.contracts import gatt as g
from bandhub.settings import Settings
from gateway import account_api
from gateway.backend import BleBackend
from gateway.session_kinds import BAND, STRAP, device_kind
from gateway.state import GatewayState
from gateway.strap_session import strap_id


class PairingError(RuntimeError):
    """Pairing or registration failed; the message says why, for the user."""


@dataclass(frozen=True)
class Nearby:
    address: str
    name: str
    rssi: int | None
    kind: str  # "band" or "heart-rate device"


_SHOWN_KIND = {BAND: "band", STRAP: "heart-rate device"}


def state_for(settings: Settings) -> GatewayState:
    return GatewayState(settings.data_dir / f"gateway-{settings.gateway_id}.sqlite")


async def scan_nearby(backend: BleBackend, seconds: float = 5.0) -> list[Nearby]:
    """Bands (and standard heart-rate devices) advertising nearby, strongest first."""
    seen = await BleakScanner.discover(timeout=seconds, return_adv=True, **backend.scanner_kwargs())
    found = []
    for device, adv in seen.values():
        kind = _SHOWN_KIND.get(device_kind(adv.service_uuids, adv.local_name))
        if kind is not None:
            found.append(Nearby(device.address, adv.local_name or "", adv.rssi, kind))
    return sorted(found, key=lambda n: -(n.rssi if n.rssi is not None else -999))


async def pair_band(
    settings: Settings,
    backend: BleBackend,
    address: str,
    *,
    api_token: str | None = None,
    claim_code: str | None = None,
    scan_seconds: float = 5.0,
    passkey: Callable[[], Awaitable[int]] | None = None,
) -> str:
    """Bond with the band at ``address``, remember it, and claim it on the server for
    the account whose access token (``api_token``) is given, with the claim code from
    the box. Returns the band id.

    ``passkey`` is asked for the six digits a band with a display shows (passkey
    entry); without it the bond is Just Works. On the native backend the operating
    system's own pairing dialog asks instead."""
    nearby = {n.address.upper(): n for n in await scan_nearby(backend, scan_seconds)}
    target = nearby.get(address.upper())
    if target is None:
        raise PairingError(f"no band at {address} nearby; is it awake and in range?")
    devices = await BleakScanner.discover(timeout=1.0, **backend.scanner_kwargs())
    device = next((d for d in devices if d.address.upper() == address.upper()), address)
    client = BleakClient(device, timeout=15.0, **backend.client_kwargs())
    try:
        await client.connect()
        # LE Secure Connections; the bond is kept by the BLE stack
        await client.pair(**({"passkey": passkey} if passkey else {}))
        if target.kind == "band":
            band_id = (await client.read_gatt_char(g.SERIAL_NUMBER)).decode().strip()
        else:
            band_id = strap_id(target.address)
    except Exception as exc:
        hint = "" if passkey else " (if the band shows a passkey, pair with --passkey)"
        raise PairingError(
            f"pairing with {address} failed: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    finally:
        await client.disconnect()
    if api_token and claim_code:
        try:
            await account_api.claim(settings, api_token, band_id, claim_code)
        except account_api.AccountApiError as exc:
            raise PairingError(str(exc)) from exc
    state = state_for(settings)
    try:
        state.add_paired(target.address, band_id, target.name)
    finally:
        state.close()
    return band_id


def bonds_file(settings: Settings) -> Path:
    """Where the bumble backend keeps its bonds (native stacks keep their own)."""
    return settings.data_dir / "bonds.json"


async def unpair(settings: Settings, address_or_band: str) -> int:
    """Forget a paired band (by address or band id) and, on the bumble backend, its bond,
    so pairing again starts afresh; returns how many were forgotten. A native stack's
    bond is the operating system's to remove (e.g. ``bluetoothctl remove ADDRESS``)."""
    state = state_for(settings)
    try:
        addresses = [a for a, band, *_ in state.paired() if address_or_band in (a, band)]
        addresses = addresses or [address_or_band.upper()]
        forgotten = state.remove_paired(address_or_band)
    finally:
        state.close()
    if bonds_file(settings).exists():
        bonds = BlindJsonKeyStore(None, str(bonds_file(settings)))
        for address in addresses:
            await bonds.delete(address)
    return forgotten
