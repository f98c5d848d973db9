"""Which kind of device an advertisement is, and which session serves each kind.

The one place that knows the session classes: the gateway asks for a session by
kind and drives it through :class:`~gateway.session.DeviceSession` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bleak import BleakClient

from bandhub.contracts import gatt as g
from gateway.band_session import BandSession
from gateway.session import DeviceSession, SessionContext
from gateway.strap_session import StrapSession

BAND = "band"  # a bandhub band with its record log
STRAP = "strap"  # any other device with the standard Heart Rate Service

SESSION_KINDS: dict[str, Callable[[BleakClient, SessionContext], DeviceSession]] = {
    BAND: BandSession,
    STRAP: StrapSession,
}


def new_session(kind: str, client: BleakClient, context: SessionContext) -> DeviceSession:
    """A session for a connected device of ``kind`` (not opened yet)."""
    try:
        make = SESSION_KINDS[kind]
    except KeyError:
        raise ValueError(f"no session for device kind {kind!r}") from None
    return make(client, context)


def device_kind(
    service_uuids: Sequence[str],
    local_name: str | None,
    *,
    name_prefix: str = "",
    accept_heart_rate_devices: bool = True,
) -> str | None:
    """A bandhub band by its service UUID (or a name with the set prefix); any other
    device with the standard Heart Rate Service is a heart-rate-only device, if
    accepted; None for anything else."""
    uuids = [u.lower() for u in service_uuids]
    if g.VENDOR_SERVICE.lower() in uuids or (
        name_prefix and local_name and local_name.startswith(name_prefix)
    ):
        return BAND
    if g.HEART_RATE_SERVICE.lower() in uuids and accept_heart_rate_devices:
        return STRAP
    return None
