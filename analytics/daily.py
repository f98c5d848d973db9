"""Daily metrics from a band's per-minute epochs and heart-rate records, for the API's
daily summary: heart-rate statistics, resting heart rate, sleep (the fitted ENMO sleep
model of analytics.sleep on the band's minute epochs, its main period, and stage
estimates from heart rate) and HRV from the band's RR intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.hrv import HrvResult, hrv_from_chunks
from analytics.sleep import score_bandhub, stages, summarize

BRIDGE_MIN = 30  # wake gaps shorter than this do not end a sleep (as the main period)

MIN_HRV_INTERVALS = 60  # about a minute of beats: fewer, and RMSSD is mostly noise
MIN_NIGHT_MIN = 120  # a shorter main sleep period (a nap, a still spell) is not a night


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
    """Per-minute asleep flags (bool) for a day of minute epochs, from the band's ENMO;
    a band not worn is not asleep.

    This uses the absolute ENMO model (``enmo_absolute``): it is our own band, whose
    gain and noise floor are known, and the self-calibrating model is fitted on 15-s
    epochs of a night in bed, not on whole days of minute epochs in whole milli-g.
    """
    enmo_g = np.asarray(enmo_g, dtype=float)
    if enmo_g.size == 0:
        return np.zeros(0, dtype=bool)
    return score_bandhub(enmo_g, 60.0, "enmo_absolute") & np.asarray(worn, dtype=bool)


@dataclass(frozen=True)
class DaySleep:
    minutes: int
    onset_s: float | None  # start of the main sleep period (epoch time, s)
    end_s: float | None  # end of its last epoch
    efficiency: float | None  # asleep share of the main period
    waso_min: float  # wake after sleep onset, inside the main period
    awakenings: int
    stage_minutes: dict[str, int]  # deep/light/rem: heart-rate estimates, not measured
    hypnogram: list[tuple[float, float, str]]  # (start s, end s, wake/light/deep/rem)


def day_sleep(
    t_s: np.ndarray, asleep: np.ndarray, hr_mean: np.ndarray, movement: np.ndarray
) -> DaySleep:
    """The day's sleep from per-minute asleep flags; stages from minute heart rate."""
    t_s = np.asarray(t_s, dtype=float)
    night = summarize(t_s, asleep, 60.0)
    labels = np.asarray(stages(asleep, hr_mean, movement)) if asleep.size else np.zeros(0)
    return DaySleep(
        minutes=int(np.sum(asleep)),
        onset_s=night.sleep_onset_s,
        end_s=night.sleep_end_s,
        efficiency=night.efficiency,
        waso_min=night.waso_min,
        awakenings=night.awakenings,
        stage_minutes={k: int(np.sum(labels == k)) for k in ("deep", "light", "rem")},
        hypnogram=hypnogram(
            np.asarray(t_s, dtype=float), labels, night.sleep_onset_s, night.sleep_end_s
        ),
    )


def hypnogram(
    t_s: np.ndarray, labels: np.ndarray, start_s: float | None, end_s: float | None
) -> list[tuple[float, float, str]]:
    """The main sleep period as runs of one label (wake, or a stage estimate); a gap in
    the minutes (the band off the wrist or out of range) ends a run."""
    if start_s is None or end_s is None:
        return []
    runs: list[tuple[float, float, str]] = []
    for t, label in zip(t_s, labels, strict=True):
        if t < start_s or t >= end_s:
            continue
        if runs and runs[-1][2] == label and runs[-1][1] == t:
            runs[-1] = (runs[-1][0], t + 60.0, label)
        else:
            runs.append((float(t), float(t) + 60.0, str(label)))
    return runs


def sleep_ending_in(
    t_s: np.ndarray,
    asleep: np.ndarray,
    hr_mean: np.ndarray,
    movement: np.ndarray,
    start_s: float,
    end_s: float,
) -> DaySleep:
    """The sleep of the day [start_s, end_s) from per-minute flags around it: every
    sleep stretch (wake gaps under ``BRIDGE_MIN`` bridged) whose waking falls in the day,
    wherever it began. The longest is the night. A night across midnight is therefore
    reported once, whole, on the day of waking, as the big platforms show it."""
    t_s = np.asarray(t_s, dtype=float)
    asleep = np.asarray(asleep, dtype=bool)
    idx = np.flatnonzero(asleep)
    mine = np.zeros(asleep.size, dtype=bool)
    spans: list[tuple[int, int]] = []
    if idx.size:
        breaks = np.flatnonzero(np.diff(idx) > BRIDGE_MIN)
        for first, last in zip(
            np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]], strict=True
        ):
            if start_s <= t_s[last] + 60.0 < end_s:
                spans.append((int(first), int(last)))
                mine[first : last + 1] = asleep[first : last + 1]
    if not spans:
        return DaySleep(0, None, None, None, 0.0, 0, {"deep": 0, "light": 0, "rem": 0}, [])
    first, last = max(spans, key=lambda s: int(asleep[s[0] : s[1] + 1].sum()))
    main = summarize(t_s[first : last + 1], asleep[first : last + 1], 60.0)
    labels = np.asarray(stages(mine, hr_mean, movement))
    return DaySleep(
        minutes=int(mine.sum()),
        onset_s=main.sleep_onset_s,
        end_s=main.sleep_end_s,
        efficiency=main.efficiency,
        waso_min=main.waso_min,
        awakenings=main.awakenings,
        stage_minutes={k: int(np.sum(labels[mine] == k)) for k in ("deep", "light", "rem")},
        hypnogram=hypnogram(t_s, labels, main.sleep_onset_s, main.sleep_end_s),
    )


def night(sleep: DaySleep) -> tuple[float, float] | None:
    """(start, end) s of the main sleep period when it is long enough to be a night: the
    usual window for a nightly HRV, taken at rest."""
    if sleep.onset_s is None or sleep.end_s is None:
        return None
    if sleep.end_s - sleep.onset_s < MIN_NIGHT_MIN * 60:
        return None
    return sleep.onset_s, sleep.end_s


def day_hrv(chunks: Sequence[Sequence[float]]) -> HrvResult | None:
    """Time-domain HRV over a band's RR chunks (one per heart-rate record), or None when
    there are too few intervals to mean anything."""
    if sum(len(c) for c in chunks) < MIN_HRV_INTERVALS:
        return None
    try:
        return hrv_from_chunks(np.asarray(c, dtype=float) for c in chunks)
    except ValueError:  # nearly all removed as artefacts or ectopic
        return None
