"""Fall confirmation on a band's raw window, used by ingest (analytics.falls)."""

from __future__ import annotations

import numpy as np

from analytics.falls import confirm_fall


def confirm(
    ax: list[float], ay: list[float], az: list[float], fs: float, pre: int
) -> tuple[bool, float]:
    """Return (confirmed, confidence 0..1) for a window whose impact is at sample ``pre``."""
    result = confirm_fall(np.column_stack([ax, ay, az]).astype(float), fs, pre)
    return result.is_fall, result.confidence
