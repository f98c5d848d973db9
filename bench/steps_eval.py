"""Walks without an arm swing, built from steps-rieck's real walks, for ``bench/fit_steps.py``
and ``bench/accuracy.py``.

steps-rieck has one wearer swinging his arm. A band on an arm that does not swing
(holding a rail, a walker, a trolley, a bag or a phone; a hand in a pocket) still
sees each heel strike, at the step rate, but not the swing, and with a much smaller
magnitude. Each real walk is turned into such a walk:

1. |a| in g (``analytics.signal.in_g``), minus its median (gravity);
2. high-passed (4th-order Butterworth, zero phase) at 0.7 x the walk's step rate
   (true steps / duration): the swing sits at half the step rate (one swing per
   stride) and below, so it is removed while every step's own rhythm stays;
3. scaled down to ``SCALES`` of its amplitude: 0.35 ("held steady", e.g. holding a
   rail or a bag) and 0.2 ("pocket", a hand in a pocket or pushing a trolley);
4. sensor noise added back (white, ``NOISE_G`` RMS, fixed seed), since scaling
   also shrank the recording's own noise, then gravity.

The true count is unchanged: the same steps were taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

from analytics.io import read_columns, sample_rate
from analytics.signal import in_g
from bench.datasets import folder, labels

SCALES = {"held steady": 0.35, "pocket": 0.2}
NOISE_G = 0.005
SWING_CUT = 0.7  # x the step rate


@dataclass
class Walk:
    recording: str
    row: dict
    mag: np.ndarray  # g, or raw counts for the recorded ones
    fs: float
    true_steps: int
    kind: str  # "swinging" (as recorded), a SCALES key, or "non-walking"


def load_recorded() -> list[Walk]:
    out = []
    for r in labels("steps-rieck"):
        path = folder("steps-rieck") / f"{r['recording']}.csv.gz"
        c = read_columns(path, ["t", "mag"])
        kind = "swinging" if r["activity"].endswith("walking") else "non-walking"
        fs = sample_rate(path, c["t"])
        out.append(Walk(r["recording"], r, c["mag"], fs, int(r["true_steps"]), kind))
    return out


def without_swing(walk: Walk, scale: float, seed: int = 0) -> np.ndarray:
    """The walk's |a| (g) as a band on a still arm would see it (see the module doc)."""
    g = in_g(walk.mag)
    dynamic = g - np.median(g)
    step_hz = walk.true_steps / float(walk.row["duration_s"])
    sos = butter(4, min(SWING_CUT * step_hz, 0.45 * walk.fs), "highpass", fs=walk.fs, output="sos")
    noise = np.random.default_rng(seed).normal(0.0, NOISE_G, g.size)
    return 1.0 + scale * sosfiltfilt(sos, dynamic) + noise


def non_swinging(recorded: list[Walk]) -> list[Walk]:
    """Every swinging walk at every SCALES level: 60 walks from the 30 recorded."""
    out = []
    for k, w in enumerate(x for x in recorded if x.kind == "swinging"):
        for name, scale in SCALES.items():
            mag = without_swing(w, scale, seed=k)
            out.append(Walk(w.recording, w.row, mag, w.fs, w.true_steps, name))
    return out


def count_error(walks: list[Walk], min_steps: int = 0) -> tuple[float, float, int, int]:
    """(mean |error|, worst |error|, walks of at least ``min_steps`` counted zero, walks)
    with the shipped counter."""
    from analytics.steps import count_steps

    errs, zeros = [], 0
    for w in walks:
        n = count_steps(w.mag, w.fs).steps
        errs.append(abs(n - w.true_steps) / w.true_steps)
        zeros += n == 0 and w.true_steps >= min_steps
    return float(np.mean(errs)), float(np.max(errs)), zeros, len(walks)
