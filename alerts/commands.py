"""What the alert side asks a band to do, as MQTT command requests (docs/mqtt.md).

The band shows the fall countdown ("Are you OK?") and vibrates for a sedentary
reminder; the requests are built here, next to the rules that decide them, and
published by whoever holds an MQTT connection.
"""

from __future__ import annotations

import time

from bandhub.contracts.messages import CommandRequest


def fall_countdown(alert_id: int, countdown_s: float) -> CommandRequest | None:
    """Ask the band to show "Are you OK?" for the wearer's countdown; its button cancels.
    The countdown runs on the server either way (``alerts.dispatch_at``). None for a
    countdown of zero: contacts are alerted at once."""
    seconds = round(countdown_s)
    if seconds <= 0:
        return None
    return CommandRequest(
        v=1,
        id=f"alert-{alert_id}-countdown",
        cmd="fall_countdown",
        args={"seconds": seconds},
        ttl_s=max(seconds, 1),
        issued_at=time.time(),
    )


def move_reminder(band_id: str) -> CommandRequest:
    """The sedentary reminder: a short vibration on the band through its gateway."""
    return CommandRequest(
        v=1,
        id=f"move-{band_id}-{int(time.time())}",
        cmd="vibrate",
        args={"seconds": 2, "reason": "move"},
        ttl_s=600,
        issued_at=time.time(),
    )
