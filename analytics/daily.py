"""Daily metrics from a band's per-minute epochs and heart-rate records, for the API's
daily summary: heart-rate statistics, resting heart rate, and minutes asleep (the
fitted ENMO sleep model of analytics.sleep on the band's minute epochs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.sleep import score_bandhub


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


def asleep_minutes(enmo_g: np.ndarray, worn: np.ndarray) -> np.ndarray:
    """Per-minute asleep flags (bool) for a day of minute epochs, from the band's ENMO
    with the fitted sleep model (analytics.sleep); a band not worn is not asleep."""
    enmo_g = np.asarray(enmo_g, dtype=float)
    if enmo_g.size == 0:
        return np.zeros(0, dtype=bool)
    return score_bandhub(enmo_g, 60.0, "enmo") & np.asarray(worn, dtype=bool)
