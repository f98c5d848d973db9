"""Peak-hold impact features: a measured alternative to the low-passed impact height.

FallAllD's impacts are one 50 Hz sample wide, WEDA-FALL's broad; the detector's 8 Hz
low-pass keeps 2.7 g of the first and 4.0 g of the second, so a model fitted on one set
learns the other device's filter as "soft falls". Here |a| of the capped but unfiltered
signal is held at its maximum over PEAK_HOLD_S before it is sampled on the internal
grid, so a spike and a broad impact of the same height read the same, and the five
impact-height features (``log_peak``, ``peak_ratio``, ``kth_peak_ratio``,
``log_std_impact``, ``impact_energy``) are computed from it instead. Everything else is
the shipped detector's. ``python bench/fit_falls.py --quick --features peak-hold``
scores it; the figures are in docs/analytics.md (not shipped: a device that samples a
narrow impact at 20 Hz point-wise misses its peak, and recall there drops).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from analytics import falls
from analytics.signal import in_g, magnitude

PEAK_HOLD_S = 0.16
REPLACED = falls.PEAK_FEATURES  # computed by falls.peak_features, from this hold
COLUMNS = [falls.FEATURES.index(name) for name in REPLACED]


def peak_hold(acc: np.ndarray, fs: float, n: int) -> np.ndarray:
    """|a| capped per axis, unfiltered, held at its maximum over PEAK_HOLD_S, on the
    internal grid (``n`` samples)."""
    m = magnitude(np.clip(in_g(np.asarray(acc, dtype=float)), -falls.CLIP_G, falls.CLIP_G))
    held = maximum_filter1d(m, max(1, round(PEAK_HOLD_S * fs)), mode="nearest")
    return np.interp(np.arange(n) / falls.RATE_HZ, np.arange(m.size) / fs, held)


def candidate_features(
    acc: np.ndarray, fs: float, late: bool = False
) -> tuple[list[float], np.ndarray]:
    """``analytics.falls.candidate_features`` with the impact height from the peak hold."""
    times, feats = falls.candidate_features(acc, fs, late=late)
    if not times:
        return times, feats
    n = len(falls.internal_signal(acc, fs))
    pad = round(max(falls.BEFORE_S, falls.AFTER_S) * falls.RATE_HZ) + 2
    p = np.pad(peak_hold(acc, fs, n), pad, mode="edge")
    for row, t in enumerate(times):
        feats[row, COLUMNS] = falls.peak_features(p, round(t * falls.RATE_HZ) + pad)
    return times, feats
