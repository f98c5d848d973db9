"""Fall detection on wrist acceleration: impact candidates scored by a fitted model.

A candidate is the largest peak of |a| (low-passed at 8 Hz, a band that a 20 Hz
device still fully holds, so the detector sees the same signal from 20 to 125 Hz)
above 1.8 g, one per 2 s. Each is described by what a fall looks like around it:
how sharp and how isolated the impact, how much the forearm's orientation changed
across it and where it settled once at rest, how still the wearer is afterwards, how
active before, whether |a| dipped below 1 g on the way down, and whether the motion
was periodic (jogging, clapping) rather than a single event. Impact height itself is
left out: soft falls from sitting onto a mattress peak at 2–3 g, below a hand slapped
on a table, and devices clip at different ranges. A logistic model over these
features, fitted with leave-one-subject-out cross-validation by
``bench/fit_falls.py``, gives the confidence; its weights and threshold live in
``analytics/params/falls.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.params import load
from analytics.signal import in_g, lowpass, magnitude

CANDIDATE_G = 1.8
CANDIDATE_SPACING_S = 2.0
LOWPASS_HZ = 8.0

FEATURES = (
    "log_jerk", "peak_ratio", "orientation_change_near", "orientation_change_long",
    "log_still_after", "log_std_impact", "log_std_rebound", "deviation_after",
    "log_std_before", "motion_before", "vertical_after", "periodicity", "log_std_after",
    "min_before", "orientation_change_settled",
)  # fmt: skip


@dataclass(frozen=True)
class FallEvent:
    t: float  # seconds from the start of the window or recording
    confidence: float  # 0..1, the model's probability
    is_fall: bool


def _prepare(acc: np.ndarray, fs: float) -> np.ndarray:
    acc = in_g(np.asarray(acc, dtype=float))
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise ValueError("fall detection needs 3-axis acceleration (n, 3)")
    return lowpass(acc, fs, LOWPASS_HZ)


def candidates(mag: np.ndarray, fs: float) -> list[int]:
    """Indices of impact candidates: largest peaks first, one per spacing."""
    half = int(CANDIDATE_SPACING_S * fs)
    taken = np.zeros(mag.size, dtype=bool)
    found = []
    for i in np.argsort(-mag):
        if mag[i] < CANDIDATE_G:
            break
        if not taken[i]:
            found.append(int(i))
            taken[max(0, i - half) : i + half] = True
    return found


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _moving_std(x: np.ndarray, fs: float, seconds: float) -> np.ndarray:
    w = max(3, round(seconds * fs))
    k = np.ones(w) / w
    mean = np.convolve(x, k, "same")
    return np.sqrt(np.clip(np.convolve(x * x, k, "same") - mean * mean, 0, None))


def _periodicity(x: np.ndarray, fs: float) -> float:
    """Peak autocorrelation at 0.15–1.2 s lags: steps, jogging and clapping repeat, falls don't."""
    if x.size < 2 * fs:
        return 0.0
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[x.size - 1 :]
    return float((ac / (ac[0] + 1e-9))[max(1, int(0.15 * fs)) : int(1.2 * fs)].max())


def features(acc: np.ndarray, grav: np.ndarray, fs: float, i: int) -> list[float]:
    """The feature vector (order of FEATURES) for a candidate at sample ``i``.

    Soft falls from sitting barely hit 2–3 g, so the impact alone cannot separate them
    from a hand slapped on a table: the features weigh the impact against how much the
    forearm turned across it and how still the wearer is afterwards. Windows cut by the
    start or end of the signal fall back to the nearest data rather than to constants.
    """
    m = magnitude(acc)
    n = m.size

    def sl(a: float, b: float) -> slice:
        lo = min(n, max(0, i + round(a * fs)))
        return slice(lo, min(n, max(lo, i + round(b * fs))))

    def log_std(a: float, b: float, default: float) -> float:
        x = m[sl(a, b)]
        return float(np.log((x.std() if x.size > 5 else default) + 0.01))

    def mean_gravity(a: float, b: float) -> np.ndarray:
        seg = grav[sl(a, b)]
        return seg.mean(0) if len(seg) else grav[min(n - 1, i)]

    def mean_acc(a: float, b: float, min_s: float = 0.2) -> np.ndarray:
        """Mean acceleration (≈ gravity direction) over a window, widened at the edges."""
        s, need = sl(a, b), max(1, round(min_s * fs))
        lo, hi = s.start, s.stop
        if hi - lo < need:
            lo, hi = (0, max(1, min(need, i))) if b <= 0 else (max(0, min(lo, n - need)), n)
        return acc[lo:hi].mean(0)

    jerk_seg = acc[sl(-0.5, 0.5)]
    jerk = float(np.abs(np.diff(jerk_seg, axis=0)).sum(1).max() * fs) if len(jerk_seg) > 2 else 0.0
    around = np.sort(m[sl(-1.5, 1.5)])
    k = int(0.3 * fs)
    peak_ratio = float(m[i] / (around[-k] + 1e-3)) if around.size > k > 0 else 1.0
    still = _moving_std(m, fs, 0.5)[sl(0.7, 3.5)]
    impact = m[sl(0, 0.5)]
    rebound = m[sl(0.5, 1.0)]
    dyn = np.linalg.norm(acc - grav, axis=1)[sl(-3, -0.7)]
    up = mean_gravity(-4, -2)
    up = up / (np.linalg.norm(up) + 1e-9)
    vertical_after = acc[sl(0.3, 3)] @ up if m[sl(0.3, 3)].size else np.ones(1)
    after = m[sl(0.5, 2.5)]
    descent = m[sl(-1.5, 0)]
    std_impact = impact.std() if impact.size > 2 else 0.0
    return [
        float(np.log(jerk + 1)),
        peak_ratio,
        _angle(mean_acc(-1.5, -0.5), mean_acc(0.5, 1.5)),
        _angle(mean_gravity(-4, -2), mean_gravity(1.5, 4)),
        float(np.log((still.min() if still.size else 0.1) + 0.01)),
        float(np.log(std_impact + 0.01)),
        float(np.log((rebound.std() if rebound.size > 2 else std_impact) + 0.01)),
        float(abs(after.mean() - 1)) if after.size else 0.0,
        log_std(-3, -1, 0.3),
        float(dyn.mean()) if dyn.size > 3 else 0.1,
        float(vertical_after.mean()),
        _periodicity(m[sl(-5, -0.3)], fs),
        log_std(0.5, 2.5, 0.3),
        # A body going down sheds weight before the impact (|a| dips below 1 g), even in
        # soft falls from sitting; a hand slapped on a table or a jump landing rarely does.
        float(descent.min()) if descent.size else 1.0,
        # Where the forearm settles 2-5 s later, once the wearer has come to rest, against
        # just before the event: catches soft falls whose impact is too gentle to stand out.
        _angle(mean_gravity(-3, -1.5), mean_gravity(2, 5)),
    ]


def candidate_features(acc: np.ndarray, fs: float) -> tuple[list[int], np.ndarray]:
    """All candidates of a recording and their features (also used by the fit script)."""
    acc = _prepare(acc, fs)
    grav = lowpass(acc, fs, 0.5)
    idx = candidates(magnitude(acc), fs)
    feats = np.array([features(acc, grav, fs, i) for i in idx]).reshape(len(idx), len(FEATURES))
    return idx, feats


def probability(feats: np.ndarray) -> np.ndarray:
    p = load("falls")
    z = (feats - np.asarray(p["mean"])) / np.asarray(p["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(p["weights"]) + p["bias"])))


def threshold() -> float:
    return float(load("falls")["threshold"])


def detect_falls(acc: np.ndarray, fs: float) -> list[FallEvent]:
    """Every fall in a recording, in time order."""
    idx, feats = candidate_features(acc, fs)
    if not idx:
        return []
    probs = probability(feats)
    cut = threshold()
    events = [
        FallEvent(round(i / fs, 2), round(float(p), 3), True)
        for i, p in zip(idx, probs, strict=True)
        if p >= cut
    ]
    return sorted(events, key=lambda e: e.t)


def confirm_fall(acc: np.ndarray, fs: float, impact_index: int) -> FallEvent:
    """Confirm or reject a band-reported impact at ``impact_index`` (±1 s tolerance)."""
    idx, feats = candidate_features(acc, fs)
    near = [k for k, i in enumerate(idx) if abs(i - impact_index) <= fs]
    if not near:
        return FallEvent(round(impact_index / fs, 2), 0.0, False)
    probs = probability(feats[near])
    best = int(np.argmax(probs))
    conf = float(probs[best])
    return FallEvent(round(idx[near[best]] / fs, 2), round(conf, 3), conf >= threshold())
