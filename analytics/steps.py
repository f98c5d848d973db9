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
median interval, so a weak peak inside a clear walk is still a step.

Walking with the arm still (a rail, a walker, a trolley, a bag, a pocket) has the same
step rhythm at a fraction of the amplitude and no swing, and the pass above counts
nothing. A second, quiet pass (``_quiet_bouts``) runs the same chain rules on the step
band with its quiet stretches lifted to a walking level, with stricter rules of its
own (among them that its steps repeat one waveform, ``_alike``); where the two passes'
bouts overlap the larger count wins (``_merge``), so the quiet pass adds steps but never
erases a walk; a quiet chain beside a loud swing bout at another pace is not the walk's
rhythm and is dropped first (``_on_pace``). Parameters are fitted by
``bench/fit_steps.py`` and shipped in ``analytics/params/steps.json``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d
from scipy.signal import find_peaks, peak_prominences

from analytics.params import load
from analytics.signal import bandpass, in_g, magnitude

MIN_STEP_INTERVAL_S = 0.3  # faster than 200 steps/min is not walking
MAX_STEP_INTERVAL_S = 2.0  # very slow walking: 0.5 steps/s
STEP_BAND_HZ = (0.5, 3.0)
ARM_BAND_HZ = (3.0, 6.0)  # present at 12.5 Hz and above
MIN_SECONDS = 3.0
PROMINENCE_FLOOR_G = 0.015  # fitted prominences (quiet walks included) are at or above this
# A chain this regular is walking whatever its spectrum (sharp impacts, a treadmill):
# on steps-rieck no arm-work chain is below 0.069 and no walking chain below 0.06.
METRONOME_CV = 0.05
QUIET_REF_G = 0.1  # step-band RMS of a walk with an arm swing (steps-rieck: 0.14-0.27)
QUIET_FLOOR_G = 0.03  # below this local RMS the signal is not amplified further
QUIET_WINDOW_S = 4.0
QUIET_PROMINENCE_FLOOR_G = 0.04  # lifted; fitted prominences are 0.05 and above
SLOW_STEP_S = 1.0  # median interval of a slow walk: 60 steps/min or fewer
# A quiet chain next to a loud swing bout must keep its pace within this (_on_pace): one
# walk's rhythm drifts by less; a chain at another pace (0.80 against 1.04 s) is not it.
MERGE_PACE_TOL = 0.2


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
    quiet_peaks: np.ndarray  # peaks of the step band with quiet stretches lifted
    quiet_prominences: np.ndarray
    shape: np.ndarray  # 0.5-6 Hz (or up to Nyquist): each step's waveform, for _alike


def _alike(c: _Peaks, peaks: np.ndarray, median: float) -> float:
    """How alike a chain's steps look: median correlation of each step with their median shape.

    Heel strikes repeat one waveform step after step; typing, mouse work and desk knocks
    make peaks at a walking rhythm with a different shape each time. Each step is the
    0.5-6 Hz signal from half a median interval before its peak to half after.
    """
    h = max(2, round(0.5 * median * c.fs))
    inside = peaks[(peaks >= h) & (peaks + h < c.shape.size)]
    if inside.size < 3:
        return 0.0
    segs = c.shape[inside[:, None] + np.arange(-h, h + 1)]
    segs = segs - segs.mean(1, keepdims=True)
    segs /= np.linalg.norm(segs, axis=1, keepdims=True) + 1e-12
    template = np.median(segs, 0)
    return float(np.median(segs @ (template / (np.linalg.norm(template) + 1e-12))))


def _quiet_gain(x: np.ndarray, fs: float) -> np.ndarray:
    """Gain that lifts a quiet stretch of the step band to a walking level.

    Without an arm swing (a rail, a walker, a bag, a pocket) the heel strikes are there at
    the step rate but several times smaller; amplifying stretches whose RMS over
    QUIET_WINDOW_S is below QUIET_REF_G (by at most QUIET_REF_G / QUIET_FLOOR_G) lets the
    same chain rules find them, while loud walks are left as they are. Computed per
    second and repeated: the gain only needs to follow seconds, and a day is 4 M samples.
    """
    per = max(1, round(fs))
    n = -(-x.size // per)
    blocks = np.r_[x * x, np.zeros(n * per - x.size)].reshape(n, per).mean(1)
    rms = np.sqrt(uniform_filter1d(blocks, max(1, int(QUIET_WINDOW_S)), mode="nearest"))
    gain = np.clip(QUIET_REF_G / np.maximum(rms, 1e-9), 1.0, QUIET_REF_G / QUIET_FLOOR_G)
    return np.repeat(gain, per)[: x.size]


def _candidates(acc: np.ndarray, fs: float) -> _Peaks | None:
    """Filtering and peak finding: the costly part, shared by every parameter choice."""
    mag = in_g(magnitude(acc))  # the same as scaling a first, with one norm instead of two
    if mag.size < max(MIN_SECONDS * fs, 30):
        return None
    x = _band(mag, fs, *STEP_BAND_HZ)
    if x is None:
        return None
    arm = _band(mag, fs, *ARM_BAND_HZ)
    # find_peaks(x, distance, prominence) in two steps, so the quiet pass can reuse them
    maxima, _ = find_peaks(x, distance=max(1, int(MIN_STEP_INTERVAL_S * fs)))
    prominences = _prominences(x, maxima)
    keep = prominences >= PROMINENCE_FLOOR_G
    gain = _quiet_gain(x, fs)
    # the same maxima, measured on the lifted band where lifting could make them count
    quiet = maxima[keep & (prominences * gain[maxima] >= QUIET_PROMINENCE_FLOOR_G)]
    return _Peaks(
        fs,
        maxima[keep],
        prominences[keep],
        np.r_[0.0, np.cumsum(x * x)],
        None if arm is None else np.r_[0.0, np.cumsum(arm * arm)],
        quiet,
        _prominences(x * gain, quiet),
        x if arm is None else x + arm,
    )


def _prominences(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Peak prominences; flat-topped maxima (prominence 0) are not a problem here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peak_prominences(x, peaks)[0] if peaks.size else np.zeros(0)


def _regular(bout: np.ndarray) -> tuple[float, float]:
    """(median interval, CV of the intervals folded onto it): a missed peak doubles one."""
    median = float(np.median(bout))
    folded = bout / np.maximum(1, np.round(bout / median))
    return median, float(folded.std() / folded.mean())


def _chains(
    peaks: np.ndarray, fs: float, p: dict, max_interval: float = MAX_STEP_INTERVAL_S
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Intervals (s) between peaks and the runs of them that link into a chain."""
    intervals = np.diff(peaks) / fs
    ratio = np.maximum(intervals[1:] / intervals[:-1], intervals[:-1] / intervals[1:])
    link = (intervals <= max_interval) & np.r_[True, ratio <= p["max_ratio"]]
    return intervals, [(a, b) for a, b in _bouts(link) if b - a + 1 >= p["min_run"]]


def _arm_work(
    c: _Peaks, i0: int, i1: int, median: float, cv: float, p: dict, quiet: bool = False
) -> bool:
    """Much more 3-6 Hz than step-band energy, and not metronome regular: arm work.

    A quiet walk has lost the swing's step-band energy, not its heel strikes' 3-6 Hz, so
    its ratio is higher: it gets its own limit, ``quiet_hf_ratio``.
    """
    if c.arm_energy is None or cv <= METRONOME_CV:
        return False
    step_band = c.energy[i1] - c.energy[i0]
    arm_band = c.arm_energy[i1] - c.arm_energy[i0]
    limit = p["max_hf_ratio"]
    if median >= SLOW_STEP_S:
        limit = max(limit, p["slow_hf_ratio"])
    if quiet:
        limit = max(limit, p["quiet_hf_ratio"])
    return bool(arm_band > limit**2 * step_band)


@dataclass(frozen=True)
class _Bout:
    """One accepted walking bout: sample span, counted steps and their times."""

    start: int
    end: int
    times: list[float]
    median_s: float

    @property
    def steps(self) -> int:
        return len(self.times)


def _bout(peaks: np.ndarray, fs: float, bout: np.ndarray, median: float, fill: bool) -> _Bout:
    """A bout's steps: its peaks, or (``fill``) its span divided by its median interval."""
    if fill:
        span = float(bout.sum())
        n = round(span / median) + 1
        times = peaks[0] / fs + np.arange(n) * span / max(n - 1, 1)
    else:
        times = peaks / fs
    return _Bout(int(peaks[0]), int(peaks[-1]), np.round(times, 2).tolist(), median)


def _swing_bouts(c: _Peaks, p: dict) -> list[_Bout]:
    """Bouts of the step band as it is: prominence, intruders, chains, arm-work veto."""
    keep = c.prominences >= p["prominence_g"]
    peaks = _drop_intruders(c.peaks[keep], c.prominences[keep], c.fs, p["drop_frac"])
    if peaks.size < p["min_run"]:
        return []
    intervals, chains = _chains(peaks, c.fs, p)
    out = []
    for a, b in chains:
        bout = intervals[a:b]
        median, cv = _regular(bout)
        if cv > p["max_cv"] or _arm_work(c, peaks[a], peaks[b], median, cv, p):
            continue
        out.append(_bout(peaks[a : b + 1], c.fs, bout, median, p["fill_missed"]))
    return out


def _swinging(c: _Peaks, i0: int, i1: int) -> bool:
    """Whether the step-band RMS from sample i0 to i1 reaches QUIET_REF_G: an arm swinging
    (or arm work), not the still arm the quiet pass is for."""
    return bool(c.energy[i1] - c.energy[i0] >= QUIET_REF_G**2 * (i1 - i0))


def _quiet_bouts(c: _Peaks, p: dict) -> list[_Bout]:
    """Walks whose |a| barely moves (no arm swing: a rail, a walker, a bag, a pocket).

    Their heel strikes still give peaks at the step rate, several times smaller. The
    peaks of the lifted step band (``_quiet_gain``) are chained with the same rules, and
    a chain must be at least ``quiet_min_run`` long, ``quiet_cv`` regular in time, even
    in height (the SD of its log prominences at most ``quiet_log_prom_sd``: heel strikes
    are alike, bar the odd hard one; lifted desk work is not) and quiet (step-band RMS
    below QUIET_REF_G: a loud chain the first pass rejected is arm work; on steps-rieck
    dressing, shoe-laces and dishes are 0.085-0.26 g RMS, walks without a swing
    0.016-0.078 g). The arm-work veto uses ``quiet_hf_ratio``; with ``quiet_veto_block`` set,
    on a chain of ``quiet_veto_min_run`` peaks or more it drops only the blocks that fail it.
    Its steps must look alike
    (``_alike`` at least ``quiet_min_alike``: typing and desk knocks do not repeat one
    shape); it may bridge a missed heel strike (``quiet_max_interval_s``) and, with
    ``quiet_fill``, counts its span divided by its median interval.
    """
    keep = c.quiet_prominences >= p["prominence_g"]
    raw, prom = c.quiet_peaks[keep], c.quiet_prominences[keep]
    peaks = _drop_intruders(raw, prom, c.fs, p["drop_frac"])
    prom = prom[np.searchsorted(raw, peaks)]
    real = np.ones(peaks.size, bool)
    if p.get("quiet_bridge_tol"):
        peaks, prom, real = _bridge(c, peaks, prom, p["quiet_bridge_tol"], p["prominence_g"])
    rules = {"max_ratio": p["max_ratio"], "min_run": p["quiet_min_run"]}
    if peaks.size < rules["min_run"]:
        return []
    # the bridge is the rhythm-checked way over a missed step: no blind longer links with it
    widest = p.get("quiet_max_interval_s", MAX_STEP_INTERVAL_S)
    if p.get("quiet_bridge_tol"):
        widest = MAX_STEP_INTERVAL_S
    intervals, chains = _chains(peaks, c.fs, rules, widest)
    fill = p.get("quiet_fill", p["fill_missed"])
    out = []
    for a, b in chains:
        bout, heights = intervals[a:b], prom[a : b + 1]
        median, cv = _regular(bout)
        if cv > p["quiet_cv"] or np.log(heights).std() > p["quiet_log_prom_sd"]:
            continue
        if _swinging(c, peaks[a], peaks[b]):
            continue  # not quiet: the first pass's to count or reject (arm work is loud)
        alike = p.get("quiet_min_alike", 0.0)
        if alike and _alike(c, peaks[a : b + 1][real[a : b + 1]], median) < alike:
            continue
        if _arm_work(c, peaks[a], peaks[b], median, cv, p, quiet=True):
            if p.get("quiet_veto_block") and b - a + 1 >= p["quiet_veto_min_run"]:
                out.extend(_unvetoed_blocks(c, peaks, intervals, a, b, p, fill))
            continue
        out.append(_bout(peaks[a : b + 1], c.fs, bout, median, fill))
    return out


def _bridge(
    c: _Peaks, peaks: np.ndarray, prom: np.ndarray, tol: float, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill one missed heel strike where the rhythm on both sides of it agrees.

    In a slow walk without a swing one heel strike under the prominence threshold, or one
    missed step, leaves a gap of two step intervals that cuts a clear rhythm into runs
    shorter than ``quiet_min_run``. Where the median of the three intervals before a gap
    and of the three after agree within ``tol`` and the gap is twice their mean within
    ``tol``, a step is put in it: the sub-threshold peak nearest the predicted time, if
    one lies within ``tol`` of a step interval of it, else the gap's midpoint. An added
    step takes its neighbours' height (for the evenness rule) and is left out of
    ``_alike``. Returns the peaks, their heights, and which of them are real peaks.
    """
    real = np.ones(peaks.size, bool)
    if peaks.size < 8:
        return peaks, prom, real
    iv = np.diff(peaks).astype(float)
    n = iv.size
    win = np.lib.stride_tricks.sliding_window_view(iv, 3)
    med3 = np.median(win, axis=1)  # med3[j]: intervals j..j+2
    i = np.arange(3, n - 3)
    left, right = med3[i - 3], med3[i + 1]
    mean = 0.5 * (left + right)
    ok = (np.abs(left - right) <= tol * mean) & (np.abs(iv[i] - 2 * mean) <= 2 * tol * mean)
    gaps, step = i[ok], mean[ok]
    if gaps.size == 0:
        return peaks, prom, real
    weak = c.quiet_peaks[c.quiet_prominences < threshold]
    added = np.empty(gaps.size, dtype=peaks.dtype)
    for k, (g, m) in enumerate(zip(gaps.tolist(), step.tolist(), strict=True)):
        want = peaks[g] + m
        lo, hi = np.searchsorted(weak, [want - tol * m, want + tol * m + 1])
        if hi > lo:
            near = weak[lo:hi]
            added[k] = near[np.argmin(np.abs(near - want))]
        else:
            added[k] = (peaks[g] + peaks[g + 1]) // 2
    height = np.sqrt(prom[gaps] * prom[gaps + 1])
    order = np.argsort(np.r_[peaks, added], kind="stable")
    out_real = np.r_[real, np.zeros(gaps.size, bool)][order]
    return np.r_[peaks, added][order], np.r_[prom, height][order], out_real


def _unvetoed_blocks(
    c: _Peaks, peaks: np.ndarray, intervals: np.ndarray, a: int, b: int, p: dict, fill: bool
) -> list[_Bout]:
    """The blocks of a long vetoed quiet chain that pass the arm-work veto on their own.

    The veto may lower a walk's count, not erase it: a long quiet chain that passed every
    other rule (regular, even, alike, quiet) is cut into blocks of ``quiet_veto_block``
    intervals and only the blocks with arm-work's 3-6 Hz excess are dropped. A walk in a
    pocket loses its swing's step-band energy, so over a whole walk its ratio can sit just
    above the limit while most of its stretches are below it.
    """
    k = int(p["quiet_veto_block"])
    out = []
    for s in range(a, b, k):
        e = min(b, s + k)
        if e - s < 2:
            continue
        median, cv = _regular(intervals[s:e])
        if not _arm_work(c, peaks[s], peaks[e], median, cv, p, quiet=True):
            out.append(_bout(peaks[s : e + 1], c.fs, intervals[s:e], median, fill))
    return out


def _on_pace(c: _Peaks, quiet: list[_Bout], swing: list[_Bout]) -> list[_Bout]:
    """The quiet bouts, less those that meet a loud swing bout at another pace.

    The quiet pass is for a still arm. A swing bout whose step-band RMS reaches
    QUIET_REF_G is an arm swinging (the level above which a quiet chain is the swing
    pass's to count). A quiet chain is judged by the swing bouts it overlaps, or when it
    overlaps none, by those within MAX_STEP_INTERVAL_S of it: if one of them is loud and
    runs at a pace more than MERGE_PACE_TOL away, the chain is off the walk's rhythm and
    is dropped rather than out-counting or adding to it (steps-rieck
    ``l1-12hz-bw2_slow-walking-sh``: a bridged chain at 0.80 s per step over a swing bout
    at 1.04 s, and one at 0.64 s between two at 0.80 s; 138 of 112 steps, 127 without).
    """
    near = MAX_STEP_INTERVAL_S * c.fs
    limit = np.log1p(MERGE_PACE_TOL)

    def off_pace(q: _Bout) -> bool:
        met = [s for s in swing if s.start <= q.end and q.start <= s.end]
        met = met or [s for s in swing if s.start <= q.end + near and q.start <= s.end + near]
        return any(
            _swinging(c, s.start, s.end) and abs(np.log(q.median_s / s.median_s)) > limit
            for s in met
        )

    return [q for q in quiet if not off_pace(q)]


def _merge(swing: list[_Bout], quiet: list[_Bout], gap: int = 0) -> list[_Bout]:
    """Where bouts of the two passes overlap (within ``gap`` samples), keep the pass that
    counts more.

    A walk's swinging stretches are counted by the first pass and its still-arm
    stretches by the quiet one; where both see it, the larger count wins, so a quiet
    stretch can only add steps the first pass missed, never erase them. Bouts that only
    follow each other both count: with a gap of 2 s, a 30-step quiet bout just after a
    79-step swing bout was dropped (steps-rieck ``normal-walking4``: 79 of 101 steps).
    """
    tagged = [(b.start, b.end, 0, b) for b in swing] + [(b.start, b.end, 1, b) for b in quiet]
    tagged.sort(key=lambda x: x[0])
    out: list[_Bout] = []
    group: list[tuple] = []
    end = -1
    for item in [*tagged, (np.inf, np.inf, 0, None)]:
        if group and item[0] > end + gap:
            counts = [sum(g[3].steps for g in group if g[2] == k) for k in (0, 1)]
            best = int(np.argmax(counts))
            out.extend(g[3] for g in group if g[2] == best)
            group, end = [], -1
        if item[3] is not None:
            group.append(item)
            end = max(end, item[1])
    return out


def _count_bouts(c: _Peaks, p: dict) -> list[_Bout]:
    """The bouts that count: the swing pass's and the quiet pass's, merged."""
    bouts = _swing_bouts(c, p)
    if p.get("quiet_min_run"):
        bouts = _merge(bouts, _on_pace(c, _quiet_bouts(c, p), bouts))
    return bouts


def _count(c: _Peaks | None, p: dict) -> StepResult:
    """Steps from candidate peaks: the swing pass, the quiet pass, merged."""
    if c is None:
        return StepResult(0, None)
    bouts = _count_bouts(c, p)
    if not bouts:
        return StepResult(0, None)
    times = sorted(t for b in bouts for t in b.times)
    cadence = round(float(np.median([60.0 / b.median_s for b in bouts])), 1)
    walking = sum((b.end - b.start) / c.fs for b in bouts)
    return StepResult(len(times), cadence, times, round(walking, 1))


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
