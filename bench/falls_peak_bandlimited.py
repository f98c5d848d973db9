"""Impact height from a band-limited reconstruction: the peak hold made rate-independent.

The peak hold (``bench/falls_peak_hold.py``) reads |a| of the unfiltered signal on the
samples the device happened to take, so a one-sample impact at 50 Hz reads full height
and the same impact point-sampled at 20 Hz reads full, half or nothing, by phase.
``analytics.falls.held_peak`` first reconstructs every axis (capped at ±4 g) on one
common 100 Hz grid by band-limited (polyphase) interpolation, low-passes it at a common
cutoff (``CUTOFF_HZ``; None: none) and only then holds its maximum over 0.16 s: the
peak is looked for between the device's samples, not only on them. The five
impact-height features are recomputed from it; everything else is the shipped
detector's. ``python bench/fit_falls.py --quick --features bandlimited`` scores it;
``bench/falls_rate_check.py`` and ``bench/falls_ensemble.py`` take ``bandlimited:<Hz>``
for another cutoff. The shipped detector averages this model (at
``analytics.falls.PEAK_CUTOFF_HZ``) with the one on the 8 Hz impact height.
"""

from __future__ import annotations

import numpy as np

from analytics import falls

CUTOFF_HZ: float | None = falls.PEAK_CUTOFF_HZ


def variant_tag() -> str:
    """Part of the candidate cache key (the module's setting)."""
    return f"cutoff {CUTOFF_HZ}"


def candidate_features(
    acc: np.ndarray, fs: float, late: bool = False
) -> tuple[list[float], np.ndarray]:
    """``analytics.falls.candidate_features`` with the impact height from the held peak."""
    times, feats = falls.candidate_features(acc, fs, late=late)
    return times, falls.with_peak(acc, fs, times, feats, CUTOFF_HZ)
