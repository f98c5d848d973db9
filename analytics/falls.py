"""Fall detection on wrist acceleration: impact candidates scored by a fitted model.

A candidate is the largest peak of |a| (low-passed at 10 Hz, so the detector sees
the same band from 20 to 125 Hz devices) above 1.8 g, one per 2 s. Each is
described by what a fall looks like around it: how hard the impact, whether the
wrist dropped (vertical velocity, free fall) before it, how much the forearm's
orientation changed, whether the wearer lay still afterwards, and whether the
motion was periodic (jogging, clapping) rather than a single event. A logistic
model over these features, fitted with leave-one-subject-out cross-validation by
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
LOWPASS_HZ = 10.0

FEATURES = (
    "orientation_change_long", "orientation_rate_max", "energy", "arm_motion",
    "still_after", "vertical_velocity_min", "vertical_velocity_range", "vertical_after",
    "peak", "min_before", "log_std_after", "log_std_after_late", "orientation_change",
    "log_std_before", "impact_deviation", "n_peaks", "deviation_after", "free_fall_s",
    "free_fall_area", "periodicity", "log_jerk",
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


def features(acc: np.ndarray, grav: np.ndarray, fs: float, i: int) -> list[float]:
    """The feature vector (order of FEATURES) for a candidate at sample ``i``."""
    m = magnitude(acc)
    n = m.size

    def sl(a: float, b: float) -> slice:
        lo = min(n, max(0, i + round(a * fs)))
        return slice(lo, min(n, max(lo, i + round(b * fs))))

    def std(a: float, b: float, default: float = 0.3) -> float:
        x = m[sl(a, b)]
        return float(x.std()) if x.size > 5 else default

    def mean_gravity(a: float, b: float) -> np.ndarray:
        seg = grav[sl(a, b)]
        return seg.mean(0) if len(seg) else grav[min(n - 1, i)]

    def mean_acc(windows: list[tuple[float, float]]) -> np.ndarray:
        for a, b in windows:
            if m[sl(a, b)].size > 5:
                return acc[sl(a, b)].mean(0)
        return acc[i]

    before = m[sl(-1, 0)] if m[sl(-1, 0)].size else m[i : i + 1]
    after = m[sl(0.5, 2.5)]
    around = m[sl(-2, 2)]
    n_peaks = int(
        np.sum((around[1:-1] > 1.6) & (around[1:-1] >= around[:-2]) & (around[1:-1] > around[2:]))
    )
    periodicity = 0.0
    seg = m[sl(-4, -0.5)]
    if seg.size > 2 * fs:
        x = seg - seg.mean()
        ac = np.correlate(x, x, "full")[x.size - 1 :]
        ac = ac / (ac[0] + 1e-9)
        periodicity = float(ac[int(0.3 * fs) : int(1.2 * fs)].max())
    jerk_seg = acc[sl(-0.5, 0.5)]
    jerk = float(np.abs(np.diff(jerk_seg, axis=0)).sum(1).max() * fs) if len(jerk_seg) > 2 else 0.0
    rate = max(
        _angle(mean_gravity(k, k + 0.05), mean_gravity(k + 0.5, k + 0.55))
        for k in np.arange(-2, 2, 0.25)
    )
    up = mean_gravity(-4, -2)
    up = up / (np.linalg.norm(up) + 1e-9)
    vertical = acc[sl(-1.5, 0.3)] @ up - 1.0
    velocity = np.cumsum(vertical) / fs * 9.81 if vertical.size else np.zeros(1)
    vertical_after = acc[sl(0.3, 3)] @ up if m[sl(0.3, 3)].size else np.ones(1)
    still_window = m[sl(0.5, 3)]
    g_before = mean_acc([(-3, -1), (-1, -0.3)])
    g_after = mean_acc([(1, 3), (0.3, 1)])
    return [
        _angle(mean_gravity(-4, -2), mean_gravity(1.5, 4)),
        rate,
        float(np.abs(m[sl(-1.5, 1.5)] - 1).sum() / fs),
        float(acc[sl(-2, 0)].std(0).sum()) if m[sl(-2, 0)].size > 5 else 0.0,
        float((np.abs(still_window - 1) < 0.1).mean()) if still_window.size else 0.5,
        float(velocity.min()),
        float(velocity.max() - velocity.min()),
        float(vertical_after.mean()),
        float(m[i]),
        float(before.min()),
        float(np.log(std(0.5, 2.5) + 0.01)),
        float(np.log(std(1.5, 3.5) + 0.01)),
        _angle(g_before, g_after),
        float(np.log(std(-3, -1) + 0.01)),
        float(np.abs(m[sl(-0.5, 0.5)] - 1).mean()),
        float(n_peaks),
        float(abs(after.mean() - 1)) if after.size else 0.0,
        float((before < 0.6).sum() / fs),
        float(np.clip(1 - before, 0, None).sum() / fs),
        periodicity,
        float(np.log(jerk + 1)),
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
