"""Step counting from wrist acceleration (3-axis or magnitude-only, g or raw counts).

Each step shows as a peak of the low-passed magnitude. Peaks only count inside a
walking bout: a chain of at least ``min_run`` peaks whose spacing changes by less
than ``max_ratio`` from one interval to the next (a missed peak doubles an
interval, which the chain tolerates) and whose intervals, folded onto the bout's
median, vary by less than ``max_cv``. A bout's steps are its duration divided by
its median step interval, so a weak peak inside a clear walk is still a step.
Parameters are fitted by ``bench/fit_steps.py`` and shipped in
``analytics/params/steps.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from analytics.params import load
from analytics.signal import in_g, lowpass, magnitude

MIN_STEP_INTERVAL_S = 0.3  # faster than 200 steps/min is not walking
MAX_STEP_INTERVAL_S = 2.0


@dataclass(frozen=True)
class StepResult:
    steps: int
    cadence_spm: float | None  # median cadence while walking
    step_times: list[float] = field(default_factory=list)
    walking_s: float = 0.0


def _bouts(link: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in ``link`` as (first interval, one past last interval)."""
    edges = np.flatnonzero(np.diff(np.r_[0, link.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def count_steps(acc: np.ndarray, fs: float, params: dict | None = None) -> StepResult:
    """Steps in a recording; ``acc`` is (n, 3) or a magnitude (n,)."""
    p = params or load("steps")
    mag = lowpass(magnitude(in_g(acc)), fs, p["lowpass_hz"])
    peaks, _ = find_peaks(
        mag, distance=max(1, int(MIN_STEP_INTERVAL_S * fs)), prominence=p["prominence_g"]
    )
    if peaks.size < p["min_run"]:
        return StepResult(0, None)
    intervals = np.diff(peaks) / fs
    ratio = np.maximum(intervals[1:] / intervals[:-1], intervals[:-1] / intervals[1:])
    link = (intervals <= MAX_STEP_INTERVAL_S) & np.r_[True, ratio <= p["max_ratio"]]
    total, times, cadences, walking = 0, [], [], 0.0
    for a, b in _bouts(link):
        bout = intervals[a:b]
        if bout.size + 1 < p["min_run"]:
            continue
        median = float(np.median(bout))
        folded = bout / np.maximum(1, np.round(bout / median))
        if folded.std() / folded.mean() > p["max_cv"]:
            continue
        span = float(bout.sum())
        n = round(span / median) + 1
        total += n
        start = peaks[a] / fs
        times.extend(np.round(start + np.arange(n) * span / max(n - 1, 1), 2).tolist())
        cadences.append(60.0 / median)
        walking += span
    cadence = round(float(np.median(cadences)), 1) if cadences else None
    return StepResult(total, cadence, times, round(walking, 1))


def activity_per_epoch(acc: np.ndarray, fs: float, epoch_s: float = 60.0) -> np.ndarray:
    """ENMO (mean of max(|a| - 1 g, 0)) per epoch, in milli-g: the band's activity measure."""
    mag = magnitude(in_g(acc))
    per = max(1, round(epoch_s * fs))
    n = mag.size // per
    enmo = np.maximum(mag[: n * per] - 1.0, 0.0).reshape(n, per).mean(1)
    return enmo * 1000.0
