"""Sleep/wake scoring from epochs of wrist activity, and the night's summary.

Three scorers share one interface (per-epoch arrays in, asleep flags out):

* :func:`score_bandhub` — ours: a logistic model over windowed features of the
  activity. On ENMO (a band's own measure) the features calibrate themselves per
  recording: each epoch is expressed relative to the night's own quiet level (its
  5th percentile) and spread (50th minus 5th), so a device's gain and noise floor,
  and how still a sleeper lies, cancel out; then centred means (one epoch to ten
  minutes) and rolling standard deviations (one to ten minutes) of its log. On
  activity counts (one actigraph's calibrated unit) the features are the log counts
  averaged in the same windows. Weights in ``analytics/params/sleep.json``
  (``bench/fit_sleep.py``, leave-one-participant-out).
* :func:`score_cole_kripke` and :func:`score_sadeh` — the published actigraphy
  rules, on per-minute counts, kept as baselines.

:func:`score_night` uses every channel where it has data: activity counts where
present (short gaps bridged), ENMO elsewhere, and says per epoch which one scored it.

Stages (light/deep/REM) are a heuristic estimate from heart rate and movement, and
are labelled as estimates everywhere they appear.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from analytics.params import load

WINDOWS_MIN = (0.0, 1.0, 2.5, 5.0, 10.0)  # centred averaging windows (minutes)
SD_WINDOWS_MIN = (1.0, 2.5, 5.0, 10.0)  # centred rolling standard deviations (ENMO)
QUIET_PERCENTILES = (5.0, 50.0)  # a night's quiet level and its typical sleeping level
SPREAD_FLOOR_G = 0.001  # below this the spread is quantisation (bands report whole mg)
LOG_OFFSET = 0.5  # in spreads: keeps the log finite at and below the quiet level
MAX_BRIDGE_MIN = 5.0  # gaps up to this long are interpolated; longer ones are not data
MIN_WAKE_BOUT_MIN = 1.0  # shorter wake blips do not count as awakenings
CHANNELS = ("activity", "enmo")  # in order of preference: activity is the reference device


def _fill(x: np.ndarray) -> np.ndarray:
    """Missing epochs take the nearest valid value (0 when none is valid)."""
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    if not ok.any():
        return np.zeros_like(x)
    idx = np.arange(x.size)
    return np.interp(idx, idx[ok], x[ok])


def _size(window_min: float, epoch_s: float) -> int:
    return max(1, round(window_min * 60 / epoch_s) | 1)


def quiet_reference(enmo: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(quiet level, spread) of a recording's ENMO in g, from its own percentiles.

    A night in bed is mostly sleep, so its median is a sleeping level and its 5th
    percentile the device's noise floor with the wearer still; ``mask`` restricts
    the estimate (e.g. to the quiet part of a whole day).
    """
    x = np.asarray(enmo, dtype=float)
    x = x[np.isfinite(x) & (True if mask is None else np.asarray(mask, dtype=bool))]
    if x.size == 0:
        return 0.0, SPREAD_FLOOR_G
    low, mid = np.percentile(x, QUIET_PERCENTILES)
    return float(low), float(max(mid - low, SPREAD_FLOOR_G))


def _rolling_sd(x: np.ndarray, size: int) -> np.ndarray:
    mean = uniform_filter1d(x, size, mode="nearest")
    return np.sqrt(np.maximum(uniform_filter1d(x * x, size, mode="nearest") - mean * mean, 0.0))


def sleep_features(
    activity: np.ndarray,
    epoch_s: float,
    kind: str,
    reference: tuple[float, float] | None = None,
) -> np.ndarray:
    """Per-epoch features: a log level smoothed over WINDOWS_MIN. For ENMO the level is
    relative to the recording's quiet reference, and its rolling SD over SD_WINDOWS_MIN
    is added (independent of the device's gain and offset). Counts, and
    ``enmo_absolute`` (ENMO in milli-g, for the band's own minute epochs), use the log
    values as they are."""
    raw = _fill(activity)
    relative = kind not in ("counts", "enmo_absolute")
    if relative:
        low, spread = reference or quiet_reference(activity)
        x = np.log(np.maximum((raw - low) / spread, 0.0) + LOG_OFFSET)
    else:
        scale = 1000.0 if kind == "enmo_absolute" else 1.0  # g -> milli-g
        x = np.log1p(np.maximum(raw, 0.0) * scale)
    cols = [uniform_filter1d(x, _size(w, epoch_s), mode="nearest") for w in WINDOWS_MIN]
    if relative:
        cols += [_rolling_sd(x, _size(w, epoch_s)) for w in SD_WINDOWS_MIN]
    return np.column_stack(cols)


def sleep_probability(
    activity: np.ndarray,
    epoch_s: float,
    kind: str = "enmo",
    reference: tuple[float, float] | None = None,
) -> np.ndarray:
    """The fitted model's probability that each epoch is sleep."""
    p = load("sleep")[kind]
    f = sleep_features(activity, epoch_s, kind, reference)
    z = (f - np.asarray(p["mean"])) / np.asarray(p["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(p["weights"]) + p["bias"])))


def score_bandhub(
    activity: np.ndarray,
    epoch_s: float,
    kind: str = "enmo",
    reference: tuple[float, float] | None = None,
) -> np.ndarray:
    """Asleep flags (bool per epoch) from ENMO (``kind='enmo'``) or counts ('counts').

    ENMO is calibrated on the recording itself unless ``reference`` (from
    :func:`quiet_reference`) is given.
    """
    prob = sleep_probability(activity, epoch_s, kind, reference)
    return prob >= load("sleep")[kind]["threshold"]


def bridge_gaps(x: np.ndarray, max_epochs: int) -> np.ndarray:
    """``x`` with runs of up to ``max_epochs`` missing epochs interpolated (nearest value
    at the edges); longer runs stay missing, because minutes of made-up data are not a
    measurement."""
    x = np.asarray(x, dtype=float)
    miss = np.isnan(x)
    if not miss.any() or miss.all():
        return x.copy()
    edges = np.flatnonzero(np.diff(np.r_[0, miss.astype(np.int8), 0]))
    filled, out = _fill(x), x.copy()
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a <= max_epochs:
            out[a:b] = filled[a:b]
    return out


@dataclass(frozen=True)
class NightScore:
    """Asleep flags and, per epoch, the channel that scored it ('none': no data)."""

    asleep: np.ndarray
    source: np.ndarray  # str per epoch: 'activity', 'enmo' or 'none'
    bridged: dict[str, int]  # per channel: missing epochs filled by interpolation
    filled: np.ndarray  # bool per epoch: its source's value was interpolated

    def segments(self, t: np.ndarray, epoch_s: float) -> list[dict]:
        """Runs of epochs scored from the same channel, as start/end seconds."""
        change = np.flatnonzero(self.source[1:] != self.source[:-1]) + 1
        starts, ends = np.r_[0, change], np.r_[change, self.source.size]
        pairs = zip(starts.tolist(), ends.tolist(), strict=True)
        return [
            {
                "start_s": float(t[a]),
                "end_s": float(t[b - 1] + epoch_s),
                "source": str(self.source[a]),
            }
            for a, b in pairs
        ]


def score_night(channels: dict[str, np.ndarray | None], epoch_s: float) -> NightScore:
    """Score a night from every channel where it has data.

    Gaps of up to MAX_BRIDGE_MIN are interpolated; an epoch is then scored from
    activity counts when they are there, else from ENMO; an epoch with neither (a
    longer gap in both) is not scored and counts as not asleep.
    """
    n = next(len(v) for v in channels.values() if v is not None)
    max_gap = int(MAX_BRIDGE_MIN * 60 / epoch_s)
    asleep, source = np.zeros(n, dtype=bool), np.full(n, "none", dtype=object)
    filled_in = np.zeros(n, dtype=bool)
    bridged: dict[str, int] = {}
    for name in reversed(CHANNELS):  # the preferred channel overwrites
        x = channels.get(name)
        if x is None or not np.isfinite(x).any():
            continue
        filled = bridge_gaps(x, max_gap)
        have = np.isfinite(filled)
        bridged[name] = int(have.sum() - np.isfinite(x).sum())
        kind = "counts" if name == "activity" else "enmo"
        flags = score_bandhub(filled, epoch_s, kind)
        asleep[have], source[have] = flags[have], name
        filled_in[have] = ~np.isfinite(np.asarray(x, dtype=float)[have])
    return NightScore(asleep, source.astype(str), bridged, filled_in)


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
    ENMO is calibrated with ``reference`` (e.g. :func:`quiet_reference` of the previous
    night) when given; then results equal :func:`score_bandhub` with that reference on
    the whole series away from its two edges. Without one, the reference is re-estimated
    from the last day of epochs seen, so early verdicts rest on little data.
    """

    def __init__(
        self, epoch_s: float, kind: str = "enmo", reference: tuple[float, float] | None = None
    ) -> None:
        self.epoch_s, self.kind, self.reference = epoch_s, kind, reference
        self.lag = round(max(WINDOWS_MIN) * 60 / epoch_s) // 2
        self._buffer: list[float] = []
        # only kept without a fixed reference; a day of epochs is enough for one, and the
        # scorer's state stays bounded however long it runs
        self._seen: deque[float] = deque(maxlen=max(1, round(86400 / epoch_s)))
        self._first = 0  # index of the first buffered epoch
        self._next = 0  # next epoch index to settle

    def push(self, activity: float) -> list[tuple[int, bool]]:
        self._buffer.append(activity)
        if self.reference is None and self.kind == "enmo":
            self._seen.append(activity)
        settled_until = self._first + len(self._buffer) - self.lag  # exclusive
        return self._settle(settled_until)

    def flush(self) -> list[tuple[int, bool]]:
        return self._settle(self._first + len(self._buffer))

    def _settle(self, until: int) -> list[tuple[int, bool]]:
        if until <= self._next:
            return []
        ref = self.reference
        if ref is None and self.kind == "enmo":
            ref = quiet_reference(np.asarray(self._seen))
        flags = score_bandhub(np.asarray(self._buffer), self.epoch_s, self.kind, ref)
        out = [(k, bool(flags[k - self._first])) for k in range(self._next, until)]
        self._next = until
        keep_from = max(0, self._next - self.lag - self._first)  # context for the next ones
        self._buffer = self._buffer[keep_from:]
        self._first += keep_from
        return out
