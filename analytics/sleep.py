"""Sleep/wake scoring from epochs of wrist activity, and the night's summary.

Three scorers share one interface (per-epoch arrays in, asleep flags out):

* :func:`score_bandhub` — ours: a logistic model over the log of the activity
  averaged in centred windows of several lengths (from one epoch to ten minutes),
  so a still minute inside a restless stretch is not called sleep. Works on ENMO
  (g) or on activity counts; each has its own fitted weights in
  ``analytics/params/sleep.json`` (``bench/fit_sleep.py``, leave-one-participant-out).
* :func:`score_cole_kripke` and :func:`score_sadeh` — the published actigraphy
  rules, on per-minute counts, kept as baselines.

Stages (light/deep/REM) are a heuristic estimate from heart rate and movement, and
are labelled as estimates everywhere they appear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from analytics.params import load

WINDOWS_MIN = (0.0, 1.0, 2.5, 5.0, 10.0)  # centred averaging windows (minutes)
MIN_WAKE_BOUT_MIN = 1.0  # shorter wake blips do not count as awakenings


def _fill(x: np.ndarray) -> np.ndarray:
    """Missing epochs take the nearest valid value (0 when none is valid)."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    if not ok.any():
        return np.zeros_like(x)
    idx = np.arange(x.size)
    return np.interp(idx, idx[ok], x[ok])


def sleep_features(activity: np.ndarray, epoch_s: float, kind: str) -> np.ndarray:
    """Per-epoch features: log activity smoothed over each window of WINDOWS_MIN."""
    x = np.maximum(_fill(activity), 0.0)
    x = np.log1p(x * 1000.0) if kind == "enmo" else np.log1p(x)  # enmo in g -> milli-g
    cols = []
    for w in WINDOWS_MIN:
        size = max(1, round(w * 60 / epoch_s) | 1)
        cols.append(uniform_filter1d(x, size, mode="nearest"))
    return np.column_stack(cols)


def score_bandhub(activity: np.ndarray, epoch_s: float, kind: str = "enmo") -> np.ndarray:
    """Asleep flags (bool per epoch) from ENMO (``kind='enmo'``) or counts ('counts')."""
    p = load("sleep")[kind]
    z = (sleep_features(activity, epoch_s, kind) - p["mean"]) / np.asarray(p["scale"])
    prob = 1.0 / (1.0 + np.exp(-(z @ np.asarray(p["weights"]) + p["bias"])))
    return prob >= p["threshold"]


def _per_minute(activity: np.ndarray, epoch_s: float) -> tuple[np.ndarray, int]:
    per = max(1, round(60 / epoch_s))
    x = np.maximum(_fill(activity), 0.0)
    pad = (-x.size) % per
    return np.r_[x, np.zeros(pad)].reshape(-1, per).sum(1), per


def score_cole_kripke(counts: np.ndarray, epoch_s: float) -> np.ndarray:
    """Cole-Kripke (1992) for 1-min counts, with Webster's rescoring rules left out."""
    minute, per = _per_minute(counts, epoch_s)
    w = np.array([106, 54, 58, 76, 230, 74, 67]) * 0.001  # minutes -4..+2
    padded = np.r_[np.zeros(4), minute, np.zeros(2)]
    d = sum(w[k] * padded[k : k + minute.size] for k in range(7))
    return np.repeat(d < 1.0, per)[: len(counts)]


def score_sadeh(counts: np.ndarray, epoch_s: float) -> np.ndarray:
    """Sadeh (1994) for 1-min counts (capped at 300), an 11-minute window."""
    minute, per = _per_minute(counts, epoch_s)
    x = np.minimum(minute, 300.0)
    padded = np.r_[np.zeros(5), x, np.zeros(5)]
    win = np.lib.stride_tricks.sliding_window_view(padded, 11)
    mean_w5 = win.mean(1)
    nat = ((win >= 50) & (win < 100)).sum(1)
    sd_last6 = np.lib.stride_tricks.sliding_window_view(np.r_[np.zeros(5), x], 6).std(1, ddof=1)
    log_act = np.log(x + 1)
    ps = 7.601 - 0.065 * mean_w5 - 1.08 * nat - 0.056 * sd_last6 - 0.703 * log_act
    return np.repeat(ps > -4, per)[: len(counts)]


@dataclass(frozen=True)
class NightSummary:
    sleep_onset_s: float | None
    sleep_end_s: float | None
    total_sleep_min: float
    efficiency: float | None  # asleep share of the main sleep period
    latency_min: float | None  # from the first epoch to sleep onset
    waso_min: float  # wake after sleep onset, inside the main period
    awakenings: int


def main_sleep_period(asleep: np.ndarray, epoch_s: float, bridge_min: float = 30.0):
    """(first, last) epoch of the longest sleep stretch, bridging wake gaps < bridge_min."""
    idx = np.flatnonzero(asleep)
    if idx.size == 0:
        return None
    gap = int(bridge_min * 60 / epoch_s)
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    k = int(np.argmax([asleep[s : e + 1].sum() for s, e in zip(starts, ends, strict=True)]))
    return int(starts[k]), int(ends[k])


def summarize(t: np.ndarray, asleep: np.ndarray, epoch_s: float) -> NightSummary:
    period = main_sleep_period(asleep, epoch_s)
    to_min = epoch_s / 60.0
    if period is None:
        return NightSummary(None, None, 0.0, None, None, 0.0, 0)
    first, last = period
    inside = asleep[first : last + 1]
    wake = ~inside
    edges = np.flatnonzero(np.diff(np.r_[0, wake.astype(np.int8), 0]))
    lengths = (edges[1::2] - edges[::2]) * to_min
    return NightSummary(
        sleep_onset_s=float(t[first]),
        sleep_end_s=float(t[last] + epoch_s),
        total_sleep_min=round(float(asleep.sum()) * to_min, 1),
        efficiency=round(float(inside.mean()), 3),
        latency_min=round(float(t[first] - t[0]) / 60.0, 1),
        waso_min=round(float(wake.sum()) * to_min, 1),
        awakenings=int((lengths >= MIN_WAKE_BOUT_MIN).sum()),
    )


def stages(asleep: np.ndarray, hr: np.ndarray, movement: np.ndarray) -> list[str]:
    """Estimated stages from heart rate: deep when HR is in the night's lowest quarter
    and still, REM when HR is above the sleeping median and still, light otherwise."""
    if not asleep.any():
        return ["wake"] * asleep.size
    hr, movement = _fill(hr), _fill(movement)
    still = movement <= np.percentile(movement[asleep], 50)
    low, mid = np.percentile(hr[asleep], [25, 50])
    out = []
    for k, a in enumerate(asleep):
        if not a:
            out.append("wake")
        elif hr[k] <= low and still[k]:
            out.append("deep")
        elif hr[k] > mid and still[k]:
            out.append("rem")
        else:
            out.append("light")
    return out


class StreamingSleepScorer:
    """Scores epochs as they arrive (e.g. a band's minute epochs) without rescoring the day.

    The model only looks ``max(WINDOWS_MIN) / 2`` minutes either side of an epoch, so
    each new epoch settles the verdict for the epoch that far back; ``push`` returns
    those newly settled (epoch index, asleep) pairs and ``flush`` the rest at the end.
    Results equal :func:`score_bandhub` on the whole series away from its two edges.
    """

    def __init__(self, epoch_s: float, kind: str = "enmo") -> None:
        self.epoch_s, self.kind = epoch_s, kind
        self.lag = round(max(WINDOWS_MIN) * 60 / epoch_s) // 2
        self._buffer: list[float] = []
        self._first = 0  # index of the first buffered epoch
        self._next = 0  # next epoch index to settle

    def push(self, activity: float) -> list[tuple[int, bool]]:
        self._buffer.append(activity)
        settled_until = self._first + len(self._buffer) - self.lag  # exclusive
        return self._settle(settled_until)

    def flush(self) -> list[tuple[int, bool]]:
        return self._settle(self._first + len(self._buffer))

    def _settle(self, until: int) -> list[tuple[int, bool]]:
        if until <= self._next:
            return []
        flags = score_bandhub(np.asarray(self._buffer), self.epoch_s, self.kind)
        out = [(k, bool(flags[k - self._first])) for k in range(self._next, until)]
        self._next = until
        keep_from = max(0, self._next - self.lag - self._first)  # context for the next ones
        self._buffer = self._buffer[keep_from:]
        self._first += keep_from
        return out
