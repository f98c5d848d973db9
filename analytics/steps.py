"""Step counting from wrist acceleration (3-axis or magnitude-only, g or raw counts).

Each step shows as a peak of the magnitude band-passed to the step band (0.5-3 Hz,
which also removes gravity and posture drift). At slow walking the arm adds small
bumps between steps, so a peak closer than ``drop_frac`` of the local median
interval to a stronger neighbour is dropped before the peaks are chained.

Peaks only count inside a walking bout: a chain of at least ``min_run`` peaks,
each at most ``MAX_STEP_INTERVAL_S`` apart (slow walking is about one step per
1.2-2 s), whose spacing changes by less than ``max_ratio`` from one interval to
the next (a missed peak doubles an interval, which the chain tolerates) and whose
intervals, folded onto the bout's median, vary by less than ``max_cv``. Arm work
(dressing, shoe-laces, dishes) also makes chains of peaks, but with much more
energy at 3-6 Hz than walking, whose energy sits at the step and stride rate: a
bout whose 3-6 Hz to 0.5-3 Hz RMS ratio exceeds ``max_hf_ratio`` is rejected, unless
its intervals are metronome-regular (sharp step impacts also reach 3-6 Hz). Slow walking
(steps ``SLOW_STEP_S`` or more apart) gets the laxer ``slow_hf_ratio``: its step-band
energy is small and partly below the 0.5 Hz band edge, while each heel strike still
reaches 3-6 Hz, so the ratio of a genuine slow walk sits near that of arm work.

A bout's steps are its peaks, or with ``fill_missed`` its duration divided by its
median interval, so a weak peak inside a clear walk is still a step. Parameters
are fitted by ``bench/fit_steps.py`` and shipped in ``analytics/params/steps.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from analytics.params import load
from analytics.signal import bandpass, in_g, magnitude

MIN_STEP_INTERVAL_S = 0.3  # faster than 200 steps/min is not walking
MAX_STEP_INTERVAL_S = 2.0  # very slow walking: 0.5 steps/s
STEP_BAND_HZ = (0.5, 3.0)
ARM_BAND_HZ = (3.0, 6.0)  # present at 12.5 Hz and above
MIN_SECONDS = 3.0
PROMINENCE_FLOOR_G = 0.03  # fitted prominences are at or above this
# A chain this regular is walking whatever its spectrum (sharp impacts, a treadmill):
# on steps-rieck no arm-work chain is below 0.069 and no walking chain below 0.06.
METRONOME_CV = 0.05
SLOW_STEP_S = 1.0  # median interval of a slow walk: 60 steps/min or fewer


@dataclass(frozen=True)
class StepResult:
    steps: int
    cadence_spm: float | None  # median cadence while walking
    step_times: list[float] = field(default_factory=list)
    walking_s: float = 0.0


def _band(x: np.ndarray, fs: float, low: float, high: float) -> np.ndarray | None:
    """Zero-phase band-pass, or None when the band does not fit below Nyquist."""
    if min(high, 0.45 * fs) <= low * 1.1:
        return None
    return bandpass(x, fs, low, high)


def _bouts(link: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in ``link`` as (first interval, one past last interval)."""
    edges = np.flatnonzero(np.diff(np.r_[0, link.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _drop_intruders(peaks: np.ndarray, prom: np.ndarray, fs: float, frac: float) -> np.ndarray:
    """Drop a peak that is much closer than the local step interval to a stronger neighbour.

    At slow walking the arm swing adds a small bump between two heel strikes; left in,
    it halves an interval and breaks the chain.
    """
    if frac <= 0 or peaks.size < 5:
        return peaks
    iv = np.diff(peaks) / fs
    med = median_filter(iv, size=7, mode="nearest")
    before, after = np.r_[np.inf, iv], np.r_[iv, np.inf]
    med_b, med_a = np.r_[med[0], med], np.r_[med, med[-1]]
    prom_b, prom_a = np.r_[0.0, prom[:-1]], np.r_[prom[1:], 0.0]
    bad = ((before < frac * med_b) & (prom < prom_b)) | ((after < frac * med_a) & (prom < prom_a))
    return peaks[~bad]


@dataclass(frozen=True)
class _Peaks:
    """Candidate step peaks of one recording, before any fitted parameter is applied."""

    fs: float
    peaks: np.ndarray
    prominences: np.ndarray
    energy: np.ndarray  # cumulative step-band energy, for any span's RMS
    arm_energy: np.ndarray | None  # cumulative 3-6 Hz energy; None below 12.5 Hz


def _candidates(acc: np.ndarray, fs: float) -> _Peaks | None:
    """Filtering and peak finding: the costly part, shared by every parameter choice."""
    mag = in_g(magnitude(acc))  # the same as scaling a first, with one norm instead of two
    if mag.size < max(MIN_SECONDS * fs, 30):
        return None
    x = _band(mag, fs, *STEP_BAND_HZ)
    if x is None:
        return None
    arm = _band(mag, fs, *ARM_BAND_HZ)
    peaks, props = find_peaks(
        x, distance=max(1, int(MIN_STEP_INTERVAL_S * fs)), prominence=PROMINENCE_FLOOR_G
    )
    return _Peaks(
        fs,
        peaks,
        props["prominences"],
        np.r_[0.0, np.cumsum(x * x)],
        None if arm is None else np.r_[0.0, np.cumsum(arm * arm)],
    )


def _count(c: _Peaks | None, p: dict) -> StepResult:
    """Steps from candidate peaks: prominence, intruders, chains, arm-work veto."""
    if c is None:
        return StepResult(0, None)
    fs = c.fs
    keep = c.prominences >= p["prominence_g"]
    peaks = _drop_intruders(c.peaks[keep], c.prominences[keep], fs, p["drop_frac"])
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
        cv = folded.std() / folded.mean()
        if cv > p["max_cv"]:
            continue
        i0, i1 = peaks[a], peaks[b]
        if c.arm_energy is not None and cv > METRONOME_CV:
            step_band = c.energy[i1] - c.energy[i0]
            arm_band = c.arm_energy[i1] - c.arm_energy[i0]
            limit = p["max_hf_ratio"]
            if median >= SLOW_STEP_S:
                limit = max(limit, p["slow_hf_ratio"])
            if arm_band > limit**2 * step_band:
                continue
        span = float(bout.sum())
        if p["fill_missed"]:
            n = round(span / median) + 1
            start = peaks[a] / fs
            times.extend(np.round(start + np.arange(n) * span / max(n - 1, 1), 2).tolist())
        else:
            n = b - a + 1
            times.extend(np.round(peaks[a : b + 1] / fs, 2).tolist())
        total += n
        cadences.append(60.0 / median)
        walking += span
    cadence = round(float(np.median(cadences)), 1) if cadences else None
    return StepResult(total, cadence, times, round(walking, 1))


def count_steps(acc: np.ndarray, fs: float, params: dict | None = None) -> StepResult:
    """Steps in a recording; ``acc`` is (n, 3) or a magnitude (n,)."""
    return _count(_candidates(acc, fs), params or load("steps"))


def activity_per_epoch(acc: np.ndarray, fs: float, epoch_s: float = 60.0) -> np.ndarray:
    """ENMO (mean of max(|a| - 1 g, 0)) per epoch, in milli-g: the band's activity measure."""
    mag = in_g(magnitude(acc))  # the same as scaling a first, with one norm instead of two
    per = max(1, round(epoch_s * fs))
    n = mag.size // per
    enmo = np.maximum(mag[: n * per] - 1.0, 0.0).reshape(n, per).mean(1)
    return enmo * 1000.0
