"""Fit the sleep/wake model (analytics/params/sleep.json) on sleep-qut.

    python bench/fit_sleep.py

One logistic model per input (``enmo``: the watch; ``counts``: the actigraph),
with leave-one-participant-out CV. The threshold maximises balanced accuracy
(mean of sleep sensitivity and wake specificity) on the out-of-fold predictions,
because accuracy alone rewards calling every epoch asleep.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.io import read_columns
from analytics.sleep import sleep_features
from bench.datasets import folder, labels
from bench.fitting import fit_logistic, leave_one_group_out, predict_logistic

OUT = Path(__file__).resolve().parents[1] / "analytics" / "params" / "sleep.json"
EPOCH_S = 15.0
COLUMN = {"enmo": "enmo", "counts": "activity"}


def load_nights() -> list[tuple[dict, dict, np.ndarray]]:
    out = []
    for r in labels("sleep-qut"):
        base = folder("sleep-qut") / r["recording"]
        cols = read_columns(f"{base}.csv.gz", ["t"], ["activity", "enmo"])
        lab = read_columns(f"{base}_labels.csv", ["t"], ["asleep"])["asleep"]
        out.append((r, cols, lab))
    return out


def metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    ok = ~np.isnan(truth)
    p, y = pred[ok].astype(bool), truth[ok].astype(bool)
    return float((p == y).mean()), float((~p[~y]).mean())


def fit_kind(nights, kind: str) -> dict:
    xs, ys, groups = [], [], []
    for r, cols, lab in nights:
        f = sleep_features(cols[COLUMN[kind]], EPOCH_S, kind)
        ok = ~np.isnan(lab)
        xs.append(f[ok])
        ys.append(lab[ok])
        groups.append(np.full(ok.sum(), r["participant"]))
    x, y, g = np.vstack(xs), np.concatenate(ys), np.concatenate(groups)
    oof = leave_one_group_out(
        g, lambda tr: fit_logistic(x[tr], y[tr]), lambda m, te: predict_logistic(m, x[te]), len(y)
    )
    best_cut, best_bal = 0.5, -1.0
    for cut in np.arange(0.3, 0.995, 0.01):
        pred = oof >= cut
        sens, spec = pred[y == 1].mean(), (~pred[y == 0]).mean()
        if (sens + spec) / 2 > best_bal:
            best_cut, best_bal = float(cut), (sens + spec) / 2
    pred = oof >= best_cut
    acc, spec = float((pred == (y == 1)).mean()), float((~pred[y == 0]).mean())
    print(
        f"{kind}: LOPO CV threshold {best_cut:.2f} accuracy {acc:.3f} wake specificity {spec:.3f}"
    )
    params = fit_logistic(x, y)
    params.update(
        threshold=round(best_cut, 2), cv={"accuracy": round(acc, 4), "specificity": round(spec, 4)}
    )
    return params


def main() -> None:
    nights = load_nights()
    out = {kind: fit_kind(nights, kind) for kind in COLUMN}
    out["fitted_by"] = "bench/fit_sleep.py on sleep-qut (leave-one-participant-out CV)"
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
