"""Impact height from a band-limited reconstruction: the peak hold made rate-independent.

The peak hold (``bench/falls_peak_hold.py``) reads |a| of the unfiltered signal on the
samples the device happened to take, so a one-sample impact at 50 Hz reads full height
and the same impact point-sampled at 20 Hz reads full, half or nothing, by phase. Here
every axis (capped at ±4 g) is first reconstructed on one common 100 Hz grid by
band-limited (polyphase, ``scipy.signal.resample_poly``) interpolation, optionally
low-passed at a common cutoff every rate can hold (``CUTOFF_HZ``, below the 10 Hz
Nyquist of a 20 Hz band), and only then held at its maximum over PEAK_HOLD_S: the peak
is looked for between the device's samples, not only on them. The five impact-height
features of the peak hold are recomputed from it; everything else is the shipped
detector's. ``python bench/fit_falls.py --quick --features bandlimited`` scores it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import resample_poly

from analytics import falls
from analytics.signal import in_g, lowpass, magnitude
from bench import falls_peak_hold

COMMON_HZ = 100.0
PEAK_HOLD_S = 0.16
CUTOFF_HZ: float | None = None  # None: no common low-pass, only the reconstruction
COLUMNS = falls_peak_hold.COLUMNS


def variant_tag() -> str:
    """Part of the candidate cache key (the module's settings)."""
    return f"{COMMON_HZ}-{PEAK_HOLD_S}-{CUTOFF_HZ}"


def reconstruct(acc: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
    """Axes capped at ±4 g, band-limited onto a grid of about COMMON_HZ; (signal, its rate)."""
    acc = np.clip(in_g(np.asarray(acc, dtype=float)), -falls.CLIP_G, falls.CLIP_G)
    ratio = Fraction(COMMON_HZ / fs).limit_denominator(64)
    mean = acc.mean(0)
    up = resample_poly(acc - mean, ratio.numerator, ratio.denominator, axis=0) + mean
    rate = fs * ratio.numerator / ratio.denominator
    if CUTOFF_HZ is not None:
        up = lowpass(up, rate, CUTOFF_HZ)
    return np.clip(up, -falls.CLIP_G, falls.CLIP_G), rate


def held_magnitude(acc: np.ndarray, fs: float, n: int) -> np.ndarray:
    """|a| of the reconstruction, held at its maximum over PEAK_HOLD_S, on the internal
    grid (``n`` samples)."""
    up, rate = reconstruct(acc, fs)
    held = maximum_filter1d(magnitude(up), max(1, round(PEAK_HOLD_S * rate)), mode="nearest")
    return np.interp(np.arange(n) / falls.RATE_HZ, np.arange(held.size) / rate, held)


def candidate_features(
    acc: np.ndarray, fs: float, late: bool = False
) -> tuple[list[float], np.ndarray]:
    """``analytics.falls.candidate_features`` with the impact height from the reconstruction."""
    times, feats = falls.candidate_features(acc, fs, late=late)
    if not times:
        return times, feats
    n = len(falls.internal_signal(acc, fs))
    pad = round(max(falls.BEFORE_S, falls.AFTER_S) * falls.RATE_HZ) + 2
    p = np.pad(held_magnitude(acc, fs, n), pad, mode="edge")
    for row, t in enumerate(times):
        feats[row, COLUMNS] = falls_peak_hold.impact_features(p, round(t * falls.RATE_HZ) + pad)
    return times, feats
