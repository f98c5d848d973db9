"""Boosted depth-2 trees for the fall model, fitted with numpy only.

A fall is an AND of cues (the forearm turned *and* the wearer is calm after *and*
the impact stands out), which a linear model over the same features cannot express:
on falls-fallalld subject-wise CV over the first 14 features, logistic regression found
26 % of the falls where these trees find 55 %, at the same ADL false-alarm rate. Each tree is ten
numbers, so the model ships as JSON and scores with a few numpy lines
(``analytics.falls.probability``).
"""

from __future__ import annotations

import numpy as np

BIG = 1e9  # "no split": every sample goes left


def _best_split(
    xb: np.ndarray, g: np.ndarray, h: np.ndarray, bins: int, lam: float, min_h: float
) -> tuple[float, int, int]:
    """(gain, feature, bin) of the best binary split of the samples, or feature -1."""
    best = (0.0, -1, -1)
    total_g, total_h = g.sum(), h.sum()
    base = total_g**2 / (total_h + lam)
    for f in range(xb.shape[1]):
        gl = np.bincount(xb[:, f], g, bins).cumsum()
        hl = np.bincount(xb[:, f], h, bins).cumsum()
        ok = (hl >= min_h) & (total_h - hl >= min_h)
        gain = gl**2 / (hl + lam) + (total_g - gl) ** 2 / (total_h - hl + lam) - base
        gain = np.where(ok, gain, 0.0)
        b = int(np.argmax(gain))
        if gain[b] > best[0]:
            best = (float(gain[b]), f, b)
    return best


def fit_trees(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    n_trees: int = 100,
    rate: float = 0.15,
    lam: float = 1.0,
    bins: int = 32,
    min_h: float = 5.0,
) -> dict:
    """Gradient-boosted depth-2 trees on log loss; returns JSON-ready params.

    Each tree is ``[f, t, f_left, t_left, v_ll, v_lr, f_right, t_right, v_rl, v_rr]``:
    go left when ``x[f] <= t``, then left again when ``x[f_left] <= t_left``, and so on.
    """
    y = y.astype(float)
    w = w * len(w) / w.sum()
    edges = [
        np.unique(np.quantile(x[:, f], np.linspace(0, 1, bins + 1)[1:-1]))
        for f in range(x.shape[1])
    ]
    xb = np.column_stack([np.searchsorted(e, x[:, f], side="right") for f, e in enumerate(edges)])

    def cut(f: int, b: int) -> float:
        return float(edges[f][b]) if b < len(edges[f]) else BIG

    p0 = float(np.clip(np.average(y, weights=w), 1e-6, 1 - 1e-6))
    base = float(np.log(p0 / (1 - p0)))
    score = np.full(len(y), base)
    trees = []
    for _ in range(n_trees):
        p = 1 / (1 + np.exp(-score))
        g, h = w * (p - y), w * p * (1 - p)
        _, f0, b0 = _best_split(xb, g, h, bins, lam, min_h)
        if f0 < 0:
            break
        tree = [f0, cut(f0, b0)]
        root_left = xb[:, f0] <= b0
        for side in (root_left, ~root_left):
            _, f1, b1 = _best_split(xb[side], g[side], h[side], bins, lam, min_h)
            f1, t1 = (0, BIG) if f1 < 0 else (f1, cut(f1, b1))
            left = side & (x[:, f1] <= t1)
            values = []
            for leaf in (left, side & ~left):
                values.append(float(-g[leaf].sum() / (h[leaf].sum() + lam) * rate))
                score[leaf] += values[-1]
            tree += [f1, t1, *values]
        trees.append(tree)
    return {"kind": "boosted_trees", "base": base, "trees": trees}
