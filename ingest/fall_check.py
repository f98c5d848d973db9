"""Fall confirmation on a band's raw window, used by ingest.

Uses ``analytics.falls.confirm_fall`` when the analytics package provides it; until
then a physically based rule: a free-fall dip, an impact, then stillness.
"""

from __future__ import annotations

import numpy as np


def confirm(
    ax: list[float], ay: list[float], az: list[float], fs: float, pre: int
) -> tuple[bool, float]:
    """Return (confirmed, confidence 0..1) for a window whose impact is at sample ``pre``."""
    acc = np.column_stack([ax, ay, az]).astype(float)
    try:
        from analytics.falls import confirm_fall  # the trained detector, when present
    except ImportError:
        return _rule(acc, fs, pre)
    result = confirm_fall(acc, fs, pre)
    return bool(result.is_fall), float(result.confidence)


def _rule(acc: np.ndarray, fs: float, pre: int) -> tuple[bool, float]:
    mag = np.linalg.norm(acc, axis=1)
    before = mag[max(0, pre - int(1.0 * fs)) : pre + 1]
    impact = mag[max(0, pre - 2) : pre + int(0.3 * fs)]
    after = mag[pre + int(1.0 * fs) :]
    if before.size == 0 or impact.size == 0 or after.size < fs:
        return False, 0.0
    free_fall = float(np.clip((1.0 - before.min()) / 0.7, 0, 1))
    peak = float(np.clip((impact.max() - 1.5) / 2.0, 0, 1))
    still = float(np.clip(1.0 - after.std() / 0.3, 0, 1))
    confidence = round(0.3 * free_fall + 0.4 * peak + 0.3 * still, 3)
    return confidence >= 0.6 and peak > 0 and still > 0.5, confidence
