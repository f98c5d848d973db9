"""Daily metrics from a band's per-minute epochs and heart-rate records.

First versions: real computations, simple and documented. ``sleep_minutes`` scores a
minute asleep when the band is worn and the activity around it (a centred 11-minute
median) stays under a threshold, then ignores sleep bouts shorter than 20 minutes,
in the spirit of Cole-Kripke's smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

SLEEP_ACTIVITY_THRESHOLD = 30  # activity counts per minute
MIN_SLEEP_BOUT_MIN = 20


@dataclass(frozen=True)
class HeartRateStats:
    min: int | None
    avg: float | None
    max: int | None


def heart_rate_stats(bpm: np.ndarray) -> HeartRateStats:
    bpm = np.asarray(bpm, dtype=float)
    if bpm.size == 0:
        return HeartRateStats(None, None, None)
    return HeartRateStats(int(bpm.min()), round(float(bpm.mean()), 1), int(bpm.max()))


def resting_heart_rate(hr_mean: np.ndarray, activity: np.ndarray, asleep: np.ndarray) -> int | None:
    """Lowest 10th percentile of minute heart rate while awake, worn and still."""
    hr_mean = np.asarray(hr_mean, dtype=float)
    still = (np.asarray(activity) < 100) & ~np.asarray(asleep, dtype=bool) & ~np.isnan(hr_mean)
    if still.sum() < 10:
        return None
    return round(float(np.percentile(hr_mean[still], 10)))


def asleep_minutes(activity: np.ndarray, worn: np.ndarray) -> np.ndarray:
    """Per-minute asleep flags (bool) for a day of minute epochs."""
    activity = np.asarray(activity, dtype=float)
    worn = np.asarray(worn, dtype=bool)
    if activity.size == 0:
        return np.zeros(0, dtype=bool)
    smooth = median_filter(activity, size=11, mode="nearest")
    asleep = (smooth < SLEEP_ACTIVITY_THRESHOLD) & worn
    # drop short bouts: a quiet quarter hour at a desk is not sleep
    edges = np.flatnonzero(np.diff(np.concatenate([[0], asleep.astype(int), [0]])))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < MIN_SLEEP_BOUT_MIN:
            asleep[start:end] = False
    return asleep
