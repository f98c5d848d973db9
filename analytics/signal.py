"""Small signal helpers shared by the detectors: units, filtering, resampling, magnitude."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt


def in_g(values: np.ndarray) -> np.ndarray:
    """Acceleration in g: raw counts are scaled so the median magnitude is 1 g.

    Devices report g, m/s² or raw counts; at rest the magnitude is gravity, so any
    recording whose median magnitude is far from 1 is rescaled by it.
    """
    values = np.asarray(values, dtype=float)
    mag = magnitude(values) if values.ndim == 2 else np.abs(values)
    med = float(np.median(mag)) if mag.size else 1.0
    if 0.5 <= med <= 2.0 or med == 0:
        return values
    return values / med


def lowpass(x: np.ndarray, fs: float, cutoff: float, order: int = 4) -> np.ndarray:
    """Zero-phase low-pass; the cutoff is capped below Nyquist for slow devices."""
    cutoff = min(cutoff, 0.45 * fs)
    if x.shape[0] <= 3 * (2 * order + 1):
        return np.asarray(x, dtype=float)
    sos = butter(order, cutoff, fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=0)


def bandpass(x: np.ndarray, fs: float, low: float, high: float, order: int = 4) -> np.ndarray:
    high = min(high, 0.45 * fs)
    sos = butter(order, [low, high], btype="band", fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=0)


def magnitude(acc: np.ndarray) -> np.ndarray:
    """|a| per sample of (n, 3) acceleration; a 1-D input already is a magnitude."""
    acc = np.asarray(acc, dtype=float)
    return np.sqrt(np.einsum("ij,ij->i", acc, acc)) if acc.ndim == 2 else acc


def resample(x: np.ndarray, fs: float, new_fs: float) -> np.ndarray:
    """Samples of (n, k) ``x`` on a ``new_fs`` grid from its first to its last sample,
    linearly interpolated (point samples: no filter, so low-pass first where it matters)."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] < 2:
        return x
    t_old = np.arange(x.shape[0]) / fs
    t_new = np.arange(0.0, t_old[-1] + 1e-9, 1.0 / new_fs)
    return np.column_stack([np.interp(t_new, t_old, x[:, k]) for k in range(x.shape[1])])
