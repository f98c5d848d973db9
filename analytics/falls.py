"""Fall detection on wrist acceleration: impact candidates scored by a fitted model.

Every input is first brought to one internal signal, whatever the device: each axis
capped at ±4 g (the smallest range among the devices fitted on, so a band that clips
and one that does not look alike), low-passed at 8 Hz (below the 40 Hz-native falls
of one training set, and all but fully held by a 20 Hz band) and resampled to 25 Hz.
A candidate is a peak of |a| above 1.4 g, one per 2 s. It is described only from 2 s
before to 2 s after it: how sharp and isolated the impact, whether |a| dipped below
1 g on the way down, how far the forearm turned across it, how active the wearer was
before and how calm after. So the band can decide 2 s after the impact, and neither
the recording's length nor how long it runs on after the fall changes the answer.
Every feature is independent of how the device's axes sit on the wrist. Boosted
depth-2 trees over these features, fitted on two fall sets from two labs and devices
by ``bench/fit_falls.py``, give the confidence; the trees and threshold live in
``analytics/params/falls.json``.

The 8 Hz low-pass reads a narrow impact (one 50 Hz sample wide) lower than a broad one of
the same height. A second set of trees (``peak`` in the params) reads the five
impact-height features from ``held_peak`` instead: a band-limited reconstruction on a
common grid, low-passed at 12 Hz and held at its maximum, which reads narrow and broad
impacts, and a 20, 32 or 50 Hz recording of one impact, alike. A third member is a small
1-D CNN (``cnn`` in the params, ``cnn_scores``; fitted with PyTorch by
``bench/falls_cnn.py``, scored here with numpy) on the candidate's ±2 s window of
orientation-free channels (``cnn_windows``): it learns its own description of the fall
instead of reading the hand-made features. The probabilities are averaged; the thresholds
are the average's.

When a candidate has LATE_S (4 s) of data after it, as the band's fall window does by
the time ingest confirms it, a second model (``late`` in the params) scores it instead:
the same features plus seven from 2-4 s after the impact (still or not, lying or
getting up, how far the forearm has turned by then), and the CNN member's ±2 s net is
averaged with a late net (``late`` in ``cnn``) reading 2 s before to 4 s after. Later
data may so raise or lower the confidence; with less than 4 s after the impact the 2-s
models decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import resample_poly

from analytics.params import load
from analytics.signal import in_g, lowpass, magnitude, resample

CLIP_G = 4.0  # per axis
LOWPASS_HZ = 8.0
RATE_HZ = 25.0  # internal rate every input is resampled to
CANDIDATE_G = 1.4
CANDIDATE_SPACING_S = 2.0
BEFORE_S = 2.0  # the features see this much before the impact...
AFTER_S = 2.0  # ...and this much after it: the band can decide that soon
LATE_S = 4.0  # with this much after the impact, the late model confirms
# the late features read up to 3.96 s after the candidate; a band window of 4 s after
# the impact sample holds 3.98 s of it
LATE_ROOM_S = LATE_S - 0.1
# The second model's impact height: a band-limited reconstruction on a common grid,
# low-passed at a cutoff near what a 20 Hz band holds, held at its maximum.
PEAK_COMMON_HZ = 100.0
PEAK_CUTOFF_HZ = 12.0
PEAK_HOLD_S = 0.16
CNN_GRAVITY_S = 0.5  # the CNN member's gravity vector: the axes averaged over this

FEATURES = (
    "log_peak", "log_jerk", "peak_ratio", "min_before", "mean_before",
    "orientation_change", "orientation_change_near", "log_std_before", "log_std_after",
    "deviation_after", "motion_after", "motion_before", "log_std_impact", "periodicity",
    "log_still_after", "vertical_after", "log_std_rebound", "kth_peak_ratio", "impact_energy",
    "time_light_before",
)  # fmt: skip
# the impact-height features the second model reads from the held peak instead
PEAK_FEATURES = ("log_peak", "peak_ratio", "kth_peak_ratio", "log_std_impact", "impact_energy")
LATE_FEATURES = (
    "late_log_std", "late_log_still", "late_deviation", "late_motion",
    "late_orientation_change", "late_vertical", "late_max",
)  # fmt: skip


@dataclass(frozen=True)
class FallEvent:
    t: float  # seconds from the start of the window or recording
    confidence: float  # 0..1, the model's probability
    is_fall: bool


def internal_signal(acc: np.ndarray, fs: float) -> np.ndarray:
    """The device-independent signal: g, capped per axis, 8 Hz low-pass, 25 Hz grid."""
    acc = in_g(np.asarray(acc, dtype=float))
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise ValueError("fall detection needs 3-axis acceleration (n, 3)")
    return resample(lowpass(np.clip(acc, -CLIP_G, CLIP_G), fs, LOWPASS_HZ), fs, RATE_HZ)


def candidates(mag: np.ndarray) -> list[int]:
    """Indices of impact candidates (internal rate): largest peaks first, one per spacing."""
    half = int(CANDIDATE_SPACING_S * RATE_HZ)
    taken = np.zeros(mag.size, dtype=bool)
    found = []
    for i in np.argsort(-mag, kind="stable"):
        if mag[i] < CANDIDATE_G:
            break
        if not taken[i]:
            found.append(int(i))
            taken[max(0, i - half) : i + half] = True
    return found


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _periodicity(x: np.ndarray) -> float:
    """Peak autocorrelation at 0.3-1.0 s lags: steps, jogging and clapping repeat, falls don't."""
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[x.size - 1 :]
    return float((ac / (ac[0] + 1e-9))[int(0.3 * RATE_HZ) : int(1.0 * RATE_HZ)].max())


def _moving_std(x: np.ndarray, seconds: float) -> np.ndarray:
    """Standard deviation over a sliding window (valid part only)."""
    w = max(3, round(seconds * RATE_HZ))
    k = np.ones(w) / w
    mean = np.convolve(x, k, "valid")
    return np.sqrt(np.clip(np.convolve(x * x, k, "valid") - mean * mean, 0, None))


def features(acc: np.ndarray, i: int) -> list[float]:
    """The feature vector (order of FEATURES) for a candidate at internal sample ``i``.

    ``acc`` is the internal signal padded by at least 2 s at both ends, so every window
    exists; a recording cut short repeats its first or last sample.
    """
    m = magnitude(acc)

    def seg(a: float, b: float) -> slice:
        return slice(i + round(a * RATE_HZ), i + round(b * RATE_HZ))

    def log_std(a: float, b: float) -> float:
        return float(np.log(m[seg(a, b)].std() + 0.01))

    def mean_acc(a: float, b: float) -> np.ndarray:
        return acc[seg(a, b)].mean(0)

    near = acc[seg(-0.5, 0.5)]
    jerk = float(np.abs(np.diff(near, axis=0)).sum(1).max() * RATE_HZ)
    window = m[seg(-BEFORE_S, AFTER_S)].copy()
    centre = round(BEFORE_S * RATE_HZ)
    window[centre - round(0.4 * RATE_HZ) : centre + round(0.4 * RATE_HZ)] = 0.0
    before, after = acc[seg(-2, -0.5)], acc[seg(1, 2)]
    up = mean_acc(-2, -1.2)
    return [
        float(np.log(m[i])),
        float(np.log(jerk + 1)),
        float(m[i] / (window.max() + 1e-3)),
        # A body going down sheds weight before the impact (|a| dips below 1 g).
        float(m[seg(-1.5, 0)].min()),
        float(m[seg(-0.8, -0.1)].mean()),
        _angle(mean_acc(-2, -1.2), mean_acc(1.2, 2)),
        _angle(mean_acc(-1, -0.4), mean_acc(0.4, 1)),
        log_std(-2, -1),
        log_std(1, 2),
        float(abs(m[seg(1, 2)].mean() - 1)),
        float(np.linalg.norm(after - after.mean(0), axis=1).mean()),
        float(np.linalg.norm(before - before.mean(0), axis=1).mean()),
        log_std(0, 0.5),
        _periodicity(m[seg(-2, 0)]),
        float(np.log(_moving_std(m[seg(0.5, 2)], 0.5).min() + 0.01)),
        float(after.mean(0) @ up / (np.linalg.norm(up) + 1e-9)),
        log_std(0.5, 1.0),
        float(m[i] / (np.sort(m[seg(-1.5, 1.5)])[-round(0.3 * RATE_HZ)] + 1e-3)),
        float(np.abs(m[seg(-0.5, 0.5)] - 1).mean()),
        float(np.mean(m[seg(-1.5, 0)] < 0.8)),
    ]


def late_features(acc: np.ndarray, i: int) -> list[float]:
    """The order of LATE_FEATURES: 2 to LATE_S s after the candidate at internal sample ``i``.

    A fallen wearer lies still with the forearm turned; after a jump, a slap on the table
    or a sit-down the wearer moves on or the arm comes back.
    """
    m = magnitude(acc)

    def seg(a: float, b: float) -> slice:
        return slice(i + round(a * RATE_HZ), i + round(b * RATE_HZ))

    up = acc[seg(-2, -1.2)].mean(0)
    late, m_late = acc[seg(3, LATE_S)].mean(0), m[seg(2, LATE_S)]
    part = acc[seg(2, LATE_S)]
    return [
        float(np.log(m_late.std() + 0.01)),
        float(np.log(_moving_std(m_late, 0.5).min() + 0.01)),
        float(abs(m_late.mean() - 1)),
        float(np.linalg.norm(part - part.mean(0), axis=1).mean()),
        _angle(up, late),
        float(late @ up / (np.linalg.norm(up) + 1e-9)),
        float(m_late.max()),
    ]


def held_peak(
    acc: np.ndarray, fs: float, n: int, cutoff: float | None = PEAK_CUTOFF_HZ
) -> np.ndarray:
    """|a| from a band-limited reconstruction, held at its maximum, on the internal grid.

    Each axis (capped at ±4 g) is interpolated onto a common ~100 Hz grid by a polyphase
    filter and low-passed at PEAK_CUTOFF_HZ, so the peak is looked for between the
    device's samples and a 20 Hz and a 50 Hz recording of one impact read alike; the
    hold over PEAK_HOLD_S lets a narrow and a broad impact of one height read the same
    (the 8 Hz low-pass of the internal signal reads a narrow one lower).
    """
    acc = np.clip(in_g(np.asarray(acc, dtype=float)), -CLIP_G, CLIP_G)
    ratio = Fraction(PEAK_COMMON_HZ / fs).limit_denominator(64)
    mean = acc.mean(0)
    up = resample_poly(acc - mean, ratio.numerator, ratio.denominator, axis=0) + mean
    rate = fs * ratio.numerator / ratio.denominator
    if cutoff is not None:
        up = lowpass(up, rate, cutoff)
    up = np.clip(up, -CLIP_G, CLIP_G)
    held = maximum_filter1d(magnitude(up), max(1, round(PEAK_HOLD_S * rate)), mode="nearest")
    return np.interp(np.arange(n) / RATE_HZ, np.arange(held.size) / rate, held)


def peak_features(p: np.ndarray, i: int) -> list[float]:
    """PEAK_FEATURES, in that order, from the held peak ``p`` (padded) at sample ``i``."""

    def seg(a: float, b: float) -> slice:
        return slice(i + round(a * RATE_HZ), i + round(b * RATE_HZ))

    window = p[seg(-BEFORE_S, AFTER_S)].copy()
    centre = round(BEFORE_S * RATE_HZ)
    window[centre - round(0.4 * RATE_HZ) : centre + round(0.4 * RATE_HZ)] = 0.0
    peak = float(p[seg(-0.3, 0.3)].max())
    return [
        float(np.log(peak)),
        float(peak / (window.max() + 1e-3)),
        float(peak / (np.sort(p[seg(-1.5, 1.5)])[-round(0.3 * RATE_HZ)] + 1e-3)),
        float(np.log(p[seg(0, 0.5)].std() + 0.01)),
        float(np.abs(p[seg(-0.5, 0.5)] - 1).mean()),
    ]


def with_peak(
    acc: np.ndarray,
    fs: float,
    times: list[float],
    feats: np.ndarray,
    cutoff: float | None = PEAK_CUTOFF_HZ,
    *,
    held: np.ndarray | None = None,
) -> np.ndarray:
    """The rows of ``feats`` with PEAK_FEATURES read from the held peak (the second model's
    input); ``cutoff`` None skips the common low-pass (measured in the bench only).
    ``held``: the recording's ``held_peak`` at ``cutoff``, when the caller has it."""
    out = np.array(feats, dtype=float, copy=True)
    if not times:
        return out
    if held is None:
        held = held_peak(acc, fs, len(internal_signal(acc, fs)), cutoff)
    pad = round(max(BEFORE_S, AFTER_S) * RATE_HZ) + 2
    p = np.pad(held, pad, mode="edge")
    cols = [FEATURES.index(name) for name in PEAK_FEATURES]
    for row, t in enumerate(times):
        out[row, cols] = peak_features(p, round(t * RATE_HZ) + pad)
    return out


def cnn_windows(
    acc: np.ndarray,
    fs: float,
    times: list[float],
    after_s: float = AFTER_S,
    *,
    sig: np.ndarray | None = None,
    held: np.ndarray | None = None,
) -> np.ndarray:
    """The CNN member's input: per candidate, (4, 100) orientation-free channels over its
    ±2 s on the internal grid: log |a|, log of ``held_peak``, the angle of the 0.5-s
    gravity vector from the mean of -2 to -1.2 s (as a fraction of 180°), log(1 + jerk).
    ``after_s`` reaches further after the candidate (the late net: LATE_S); ``sig``
    and ``held``: the recording's ``internal_signal`` and ``held_peak``, when the caller
    has them."""
    before, after = round(BEFORE_S * RATE_HZ), round(after_s * RATE_HZ)
    if not times:
        return np.zeros((0, 4, before + after))
    sig = internal_signal(acc, fs) if sig is None else sig
    held = held_peak(acc, fs, len(sig)) if held is None else held
    pad = max(before, after) + 2
    padded = np.pad(sig, ((pad, pad), (0, 0)), mode="edge")
    peak = np.pad(held, pad, mode="edge")
    w = round(CNN_GRAVITY_S * RATE_HZ)
    kernel = np.ones(w) / w
    gravity = np.column_stack(
        [np.convolve(np.pad(padded[:, k], w, mode="edge"), kernel, "same")[w:-w] for k in range(3)]
    )
    jerk = np.r_[0.0, magnitude(np.diff(padded, axis=0))] * RATE_HZ
    m = magnitude(padded)
    out = []
    for t in times:
        i = round(t * RATE_HZ) + pad
        s = slice(i - before, i + after)
        up = padded[i - before : i - before + round(0.8 * RATE_HZ)].mean(0)
        g = gravity[s]
        cos = g @ up / (np.linalg.norm(g, axis=1) * np.linalg.norm(up) + 1e-9)
        turn = np.arccos(np.clip(cos, -1, 1)) / np.pi
        out.append([np.log(m[s] + 1e-3), np.log(peak[s] + 1e-3), turn, np.log1p(jerk[s])])
    return np.array(out)


def _conv_relu(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ReLU of a valid 1-D convolution (cross-correlation, as torch's) of (n, c, t) by
    (out, c, k)."""
    cols = np.lib.stride_tricks.sliding_window_view(x, weight.shape[2], axis=2)
    return np.maximum(np.einsum("nctk,ock->not", cols, weight) + bias[None, :, None], 0.0)


def _pool2(x: np.ndarray) -> np.ndarray:
    t = x.shape[2] // 2 * 2
    return x[:, :, :t].reshape(x.shape[0], x.shape[1], -1, 2).max(3)


def cnn_scores(params: dict, x: np.ndarray) -> np.ndarray:
    """Probability from the small CNN (``bench/falls_cnn.py``) on ``cnn_windows``: three
    convolutions, a global max and mean pool, one linear output; numpy only."""
    p = {k: np.asarray(v, dtype=float) for k, v in params["weights"].items()}
    mean, std = np.asarray(params["mean"]), np.asarray(params["std"])
    h = (np.asarray(x, dtype=float) - mean[None, :, None]) / std[None, :, None]
    h = _pool2(_conv_relu(h, p["c1.weight"], p["c1.bias"]))
    h = _pool2(_conv_relu(h, p["c2.weight"], p["c2.bias"]))
    h = _conv_relu(h, p["c3.weight"], p["c3.bias"])
    z = np.concatenate([h.max(2), h.mean(2)], 1) @ p["out.weight"].T + p["out.bias"]
    return 1.0 / (1.0 + np.exp(-z[:, 0]))


def cnn_member(
    params: dict,
    acc: np.ndarray,
    fs: float,
    times: list[float],
    late: np.ndarray,
    *,
    sig: np.ndarray,
    held: np.ndarray | None,
) -> np.ndarray:
    """The CNN member's probability per candidate: the ±2 s net, averaged with the late
    net (``late`` in its params: the same net on -2 to +LATE_S s) where ``late`` marks a
    candidate with LATE_ROOM_S after it. The ±2 s window is the start of the late one, so
    the windows are cut once."""
    with_late = "late" in params and late.any()
    wins = cnn_windows(acc, fs, times, LATE_S if with_late else AFTER_S, sig=sig, held=held)
    probs = cnn_scores(params, wins[:, :, : round((BEFORE_S + AFTER_S) * RATE_HZ)])
    if with_late:
        probs[late] = (probs[late] + cnn_scores(params["late"], wins[late])) / 2
    return probs


def candidate_features(
    acc: np.ndarray, fs: float, late: bool = False, *, sig: np.ndarray | None = None
) -> tuple[list[float], np.ndarray]:
    """Times (s) of all candidates of a recording and their features (also for fitting).

    With ``late`` the LATE_FEATURES follow the FEATURES in each row; ``sig``: the
    recording's ``internal_signal``, when the caller has it.
    """
    sig = internal_signal(acc, fs) if sig is None else sig
    pad = round(max(BEFORE_S, AFTER_S, LATE_S if late else 0.0) * RATE_HZ) + 2
    padded = np.pad(sig, ((pad, pad), (0, 0)), mode="edge")
    idx = candidates(magnitude(sig))
    feats = [
        features(padded, i + pad) + (late_features(padded, i + pad) if late else []) for i in idx
    ]
    width = len(FEATURES) + (len(LATE_FEATURES) if late else 0)
    return [i / RATE_HZ for i in idx], np.array(feats).reshape(len(idx), width)


def tree_scores(params: dict, feats: np.ndarray) -> np.ndarray:
    """Probability from boosted depth-2 trees stored as rows of ten numbers."""
    t = np.asarray(params["trees"], dtype=float).reshape(-1, 10)

    def goes_left(k: int) -> np.ndarray:  # the split whose feature is in column k
        return feats[:, t[:, k].astype(int)] <= t[:, k + 1]

    def leaf(k: int) -> np.ndarray:  # value of the left (k=2) or right (k=6) subtree
        return np.where(goes_left(k), t[:, k + 2], t[:, k + 3])

    root_left = goes_left(0)
    logit = params["base"] + np.where(root_left, leaf(2), leaf(6)).sum(1)
    return 1.0 / (1.0 + np.exp(-logit))


def probability(feats: np.ndarray) -> np.ndarray:
    """The 8 Hz model's 2-s probability for FEATURES rows (``scored_candidates`` averages
    it with the held-peak model, which needs the recording)."""
    return tree_scores(load("falls"), np.asarray(feats, dtype=float).reshape(-1, len(FEATURES)))


def threshold() -> float:
    return float(load("falls")["threshold"])


def scored_candidates(acc: np.ndarray, fs: float) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Times, probabilities and each one's threshold for every candidate of a recording.

    A candidate with LATE_S of data after it is scored by the late model when the params
    have one, any other by the 2-s model. With a ``peak`` model in the params (the same
    features, the impact height from ``held_peak``) and a ``cnn`` one (the small CNN on
    the ±2 s window, ``cnn_windows``), the models' probabilities are averaged, and the
    thresholds are the average's. Where the late trees score, the CNN member is its
    ±2 s net averaged with its late net when it has one (``cnn_member``).
    """
    params = load("falls")
    late = params.get("late")
    sig = internal_signal(acc, fs)  # computed once: every member reads it or the held peak
    times, feats = candidate_features(acc, fs, late=late is not None, sig=sig)
    use = np.zeros(len(times), dtype=bool)
    if late is not None and times:
        use = np.array(times) <= (len(acc) - 1) / fs - LATE_ROOM_S

    def member(model: dict, x: np.ndarray) -> np.ndarray:
        probs = tree_scores(model, x[:, : len(FEATURES)])
        if use.any():
            probs[use] = tree_scores(model["late"], x[use])
        return probs

    probs = [member(params, feats)]
    held = held_peak(acc, fs, len(sig)) if times and ("peak" in params or "cnn" in params) else None
    if "peak" in params:
        probs.append(member(params["peak"], with_peak(acc, fs, times, feats, held=held)))
    if "cnn" in params and times:
        probs.append(cnn_member(params["cnn"], acc, fs, times, use, sig=sig, held=held))
    probs = np.mean(probs, axis=0)
    cuts = np.full(len(times), float(params["threshold"]))
    if use.any():
        cuts[use] = float(late["threshold"])
    return times, probs, cuts


def detect_falls(acc: np.ndarray, fs: float) -> list[FallEvent]:
    """Every fall in a recording, in time order."""
    times, probs, cuts = scored_candidates(acc, fs)
    events = [
        FallEvent(round(t, 2), round(float(p), 3), True)
        for t, p, c in zip(times, probs, cuts, strict=True)
        if p >= c
    ]
    return sorted(events, key=lambda e: e.t)


def confirm_fall(acc: np.ndarray, fs: float, impact_index: int) -> FallEvent:
    """Confirm or reject a band-reported impact at ``impact_index`` (±1 s tolerance).

    With LATE_S of the window after the impact the late model decides (the band's window
    runs 4 s on); with less, the 2-s model the band itself could use.
    """
    times, probs, cuts = scored_candidates(acc, fs)
    t_impact = impact_index / fs
    near = [k for k, t in enumerate(times) if abs(t - t_impact) <= 1.0]
    if not near:
        return FallEvent(round(t_impact, 2), 0.0, False)
    best = max(near, key=lambda k: probs[k] - cuts[k])
    conf = float(probs[best])
    return FallEvent(round(times[best], 2), round(conf, 3), bool(conf >= cuts[best]))
