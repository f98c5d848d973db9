"""The bands this gateway may sync, as bandhub last said (retained ``gw/<id>/bands``).

With per-gateway credentials (``BANDHUB_GATEWAY_AUTH``) the broker drops what a gateway
publishes for a band not bound to it, and over MQTT 3.1.1 it still acknowledges the
message: a gateway that synced such a band would let it forget records nobody got.
So the gateway syncs a band only when its bindings list it; any other band keeps its
records until it is bound (``bandhub gateway pair``) and is retried then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from bandhub.contracts.messages import GatewayBindings

log = logging.getLogger(__name__)


class NotBound(RuntimeError):
    """The band is not bound to this gateway (yet): it is left alone, records and all."""


class Bindings:
    """``enforced=False`` (no per-gateway credentials): every band may be synced."""

    def __init__(self, gateway_id: str, enforced: bool, on_change: Callable[[], None]) -> None:
        self.gateway_id = gateway_id
        self.enforced = enforced
        self.bands: frozenset[str] | None = None  # None: not heard from bandhub yet
        self._on_change = on_change

    def check(self, band_id: str) -> None:
        """Raise NotBound unless the gateway may sync ``band_id``."""
        if not self.enforced:
            return
        if self.bands is None:
            raise NotBound(f"no bindings received for gateway {self.gateway_id} yet")
        if band_id not in self.bands:
            raise NotBound(
                f"band {band_id} is not bound to gateway {self.gateway_id}: pair it"
                " (bandhub gateway pair) to sync it; it keeps its records meanwhile"
            )

    def allows(self, band_id: str) -> bool:
        try:
            self.check(band_id)
        except NotBound:
            return False
        return True

    def on_message(self, _topic: str, payload: bytes) -> None:
        if not payload:  # cleared: the gateway was revoked
            self.bands = frozenset()
        else:
            try:
                msg = GatewayBindings.model_validate_json(payload)
            except ValidationError as exc:
                log.error("unreadable bindings message, keeping the last ones: %s", exc)
                return
            self.bands = frozenset(msg.bands)
        log.info("bands bound to this gateway: %s", ", ".join(sorted(self.bands)) or "none")
        self._on_change()
