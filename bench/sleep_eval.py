"""Leave-one-participant-out evaluation of the sleep model on sleep-qut, shared by
``bench/fit_sleep.py`` (which fits and ships it) and ``bench/accuracy.py`` (which prints it).

Every participant is reported, not only the mean: a model that is right on average can
still call one person's quiet sleep wake. ``PERTURBATIONS`` rescale and offset ENMO the
way another device's gain and noise floor would; a self-calibrating model barely moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analytics import sleep
from analytics.io import read_columns
from bench.datasets import folder, labels
from bench.fitting import fit_logistic, predict_logistic

EPOCH_S = 15.0
COLUMN = {"enmo": "enmo", "counts": "activity", "enmo_absolute": "enmo"}
# threshold: maximise w * sleep sensitivity + (1 - w) * wake specificity on the training folds
SENS_WEIGHT = {"enmo": 0.7, "counts": 0.5, "enmo_absolute": 0.5}
# (gain, offset in g, half-normal noise in g): another device's ENMO
PERTURBATIONS = {
    "as recorded": (1.0, 0.0, 0.0),
    "gain x0.5": (0.5, 0.0, 0.0),
    "gain x2": (2.0, 0.0, 0.0),
    "offset +3 mg": (1.0, 0.003, 0.0),
    "gain x0.5, +2 mg, noise 1 mg": (0.5, 0.002, 0.001),
}


@dataclass
class Night:
    recording: str
    participant: str
    t: np.ndarray
    activity: np.ndarray
    enmo: np.ndarray
    truth: np.ndarray  # 1 sleep, 0 wake, NaN unscored


def load_nights() -> list[Night]:
    out = []
    for r in labels("sleep-qut"):
        base = folder("sleep-qut") / r["recording"]
        c = read_columns(f"{base}.csv.gz", ["t"], ["activity", "enmo"])
        lab = read_columns(f"{base}_labels.csv", ["t"], ["asleep"])["asleep"]
        out.append(Night(r["recording"], r["participant"], c["t"], c["activity"], c["enmo"], lab))
    return out


def perturb(
    enmo: np.ndarray, gain: float, offset: float, noise: float, seed: int = 0
) -> np.ndarray:
    """ENMO as a device with another gain, zero-g offset and noise floor would report it."""
    extra = np.abs(np.random.default_rng(seed).normal(0.0, noise, enmo.size)) if noise else 0.0
    return enmo * gain + offset + extra


def features(night: Night, kind: str, enmo: np.ndarray | None = None) -> np.ndarray:
    x = night.activity if kind == "counts" else (night.enmo if enmo is None else enmo)
    if kind == "counts":
        x = sleep.bridge_gaps(x, int(sleep.MAX_BRIDGE_MIN * 60 / EPOCH_S))
    return sleep.sleep_features(x, EPOCH_S, kind)


def choose_threshold(prob: np.ndarray, y: np.ndarray, weight: float) -> float:
    cuts = np.arange(0.3, 0.995, 0.01)
    score = [weight * (prob[y == 1] >= c).mean() + (1 - weight) * (prob[y == 0] < c).mean()
             for c in cuts]  # fmt: skip
    return round(float(cuts[int(np.argmax(score))]), 2)


def fit(nights: list[Night], kind: str) -> dict:
    """Logistic weights and threshold from these nights (scored epochs only)."""
    xs = [features(n, kind) for n in nights]
    oks = [np.isfinite(n.truth) for n in nights]
    x = np.vstack([f[ok] for f, ok in zip(xs, oks, strict=True)])
    y = np.concatenate([n.truth[ok] for n, ok in zip(nights, oks, strict=True)])
    params = fit_logistic(x, y)
    params["threshold"] = choose_threshold(predict_logistic(params, x), y, SENS_WEIGHT[kind])
    return params


def metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(epoch accuracy, wake specificity) over the scored epochs."""
    ok = np.isfinite(truth)
    p, y = pred[ok].astype(bool), truth[ok].astype(bool)
    return float((p == y).mean()), float((~p[~y]).mean()) if (~y).any() else float("nan")


Predict = Callable[[dict, Night], np.ndarray]


def predict_enmo(perturbation: tuple[float, float, float], kind: str = "enmo") -> Predict:
    def run(params: dict, night: Night) -> np.ndarray:
        x = features(night, kind, perturb(night.enmo, *perturbation))
        return predict_logistic(params, x) >= params["threshold"]

    return run


def predict_counts(params: dict, night: Night) -> np.ndarray:
    return predict_logistic(params, features(night, "counts")) >= params["threshold"]


def lopo(nights: list[Night], kind: str, predictors: dict[str, Predict]) -> dict[str, dict]:
    """Per predictor, per participant: (accuracy, wake specificity) of that participant's
    nights scored by a model fitted on the other participants only."""
    out: dict[str, dict] = {name: {} for name in predictors}
    for held in sorted({n.participant for n in nights}):
        params = fit([n for n in nights if n.participant != held], kind)
        test = [n for n in nights if n.participant == held]
        truth = np.concatenate([n.truth for n in test])
        for name, predict in predictors.items():
            pred = np.concatenate([predict(params, n) for n in test])
            out[name][held] = metrics(pred, truth)
    return out


def pooled(per_participant: dict[str, tuple[float, float]]) -> tuple[float, float, float, float]:
    """(mean accuracy, mean specificity, worst accuracy, worst specificity) over participants."""
    acc = [a for a, _ in per_participant.values()]
    spec = [s for _, s in per_participant.values()]
    return float(np.mean(acc)), float(np.mean(spec)), min(acc), min(spec)


def participant_rows(nights: list[Night]) -> list[tuple[str, str, str, str]]:
    """Rows for bench/accuracy.py: per participant, leave-one-participant-out, ENMO as
    recorded and through other devices' gain/offset/noise, and activity with gaps bridged.
    """
    enmo = lopo(nights, "enmo", {k: predict_enmo(v) for k, v in PERTURBATIONS.items()})
    counts = lopo(nights, "counts", {"bridged": predict_counts})["bridged"]
    rows = []
    for p in sorted(counts):
        acc, spec = enmo["as recorded"][p]
        shifted = [enmo[k][p] for k in PERTURBATIONS if k != "as recorded"]
        worst = (min(a for a, _ in shifted), min(s for _, s in shifted))
        c_acc, c_spec = counts[p]
        rows.append((
            f"{p}: enmo LOPO accuracy / wake specificity", f"{acc:.1%} / {spec:.1%}",
            ">= 88 % / 60 %",
            f"other devices worst {worst[0]:.1%} / {worst[1]:.1%}; "
            f"activity (gaps bridged) {c_acc:.1%} / {c_spec:.1%}",
        ))  # fmt: skip
    return rows


def gap_rows(nights: list[Night]) -> list[tuple[str, str, str, str]]:
    """Nights whose activity column has gaps: ENMO alone (what was used before) against
    activity with its gaps bridged, both leave-one-participant-out, pooled over epochs."""
    gappy = [n for n in nights if np.isnan(n.activity).any()]
    held = {n.participant for n in gappy}
    enmo_pred, count_pred, truth = [], [], []
    for p in sorted(held):
        train = [n for n in nights if n.participant != p]
        pe, pc = fit(train, "enmo"), fit(train, "counts")
        for n in (n for n in gappy if n.participant == p):
            enmo_pred.append(predict_enmo((1.0, 0.0, 0.0))(pe, n))
            count_pred.append(predict_counts(pc, n))
            truth.append(n.truth)
    y = np.concatenate(truth)
    missing = sum(int(np.isnan(n.activity).sum()) for n in gappy)
    total = sum(n.activity.size for n in gappy)
    note = f"{len(gappy)} nights, {missing} of {total} activity epochs missing (LOPO)"
    e_acc, e_spec = metrics(np.concatenate(enmo_pred), y)
    c_acc, c_spec = metrics(np.concatenate(count_pred), y)
    return [
        ("nights with activity gaps: enmo alone", f"{e_acc:.1%} / {e_spec:.1%}", "", note),
        ("same nights: activity, gaps <= 5 min bridged", f"{c_acc:.1%} / {c_spec:.1%}",
         ">= 88 % / 60 %", "what score_night / bandhub analyze sleep use"),
    ]  # fmt: skip
