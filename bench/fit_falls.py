"""Fit the fall model (analytics/params/falls.json) on falls-weda, subject-wise.

    python bench/fit_falls.py          # prints CV metrics and rewrites the params

The threshold is the lowest one whose leave-one-subject-out predictions keep at
least 97.5 % of ADL recordings free of false alarms; recall is then what it is.
Both the CV figures and the shipped model's in-sample figures are printed, with the
fall types that are still missed, so a change can be judged on the CV ones.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.falls import FEATURES, candidate_features
from analytics.io import read_columns, sample_rate
from bench.datasets import folder, labels
from bench.fitting import fit_logistic, leave_one_group_out, predict_logistic

ADL_CLEAN_TARGET = 0.975
L2 = 1.0
OUT = Path(__file__).resolve().parents[1] / "analytics" / "params" / "falls.json"


def candidate_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    rows = labels("falls-weda")
    xs, ys, subjects, recs = [], [], [], []
    for r in rows:
        path = folder("falls-weda") / f"{r['recording']}.csv.gz"
        c = read_columns(path, ["t", "ax", "ay", "az"])
        fs = sample_rate(path, c["t"])
        idx, feats = candidate_features(np.column_stack([c["ax"], c["ay"], c["az"]]), fs)
        r["hours"] = float(c["t"][-1]) / 3600
        for i, f in zip(idx, feats, strict=True):
            t = c["t"][i]
            in_fall = r["is_fall"] == "1" and (
                float(r["fall_start_s"]) - 0.5 <= t <= float(r["fall_end_s"]) + 0.5
            )
            xs.append(f)
            ys.append(int(in_fall))
            subjects.append(r["subject"])
            recs.append(r["recording"])
    return np.array(xs), np.array(ys), np.array(subjects), np.array(recs), rows


def recording_metrics(prob, y, recs, rows, cut) -> tuple[float, float, float]:
    """Recall over fall recordings, share of ADL recordings without an alarm, alarms/h."""
    detected = {r for p, yy, r in zip(prob, y, recs, strict=True) if p >= cut and yy}
    alarms = Counter(r for p, yy, r in zip(prob, y, recs, strict=True) if p >= cut and not yy)
    falls = [r["recording"] for r in rows if r["is_fall"] == "1"]
    adl = [r for r in rows if r["is_fall"] == "0"]
    recall = sum(r in detected for r in falls) / len(falls)
    clean = 1 - sum(r["recording"] in alarms for r in adl) / len(adl)
    per_hour = sum(alarms[r["recording"]] for r in adl) / sum(r["hours"] for r in adl)
    return recall, clean, per_hour


def missed(prob, y, recs, rows, cut) -> dict[str, int]:
    """Missed falls per activity code, to see which fall types remain hard."""
    detected = {r for p, yy, r in zip(prob, y, recs, strict=True) if p >= cut and yy}
    return dict(
        sorted(
            Counter(
                r["activity"]
                for r in rows
                if r["is_fall"] == "1" and r["recording"] not in detected
            ).items()
        )
    )


def main() -> None:
    x, y, subjects, recs, rows = candidate_table()
    oof = leave_one_group_out(
        subjects,
        lambda train: fit_logistic(x[train], y[train], L2),
        lambda model, test: predict_logistic(model, x[test]),
        len(y),
    )
    cut = next(
        c for c in np.arange(0.2, 0.95, 0.01)
        if recording_metrics(oof, y, recs, rows, c)[1] >= ADL_CLEAN_TARGET
    )  # fmt: skip
    recall, clean, per_hour = recording_metrics(oof, y, recs, rows, cut)
    print(f"candidates {len(y)} ({y.sum()} in a fall window), subjects {len(set(subjects))}")
    print(
        f"LOSO CV at threshold {cut:.2f}: recall {recall:.3f}, ADL clean {clean:.3f}, "
        f"false alarms {per_hour:.2f}/h of ADL; missed {missed(oof, y, recs, rows, cut)}"
    )
    params = fit_logistic(x, y, L2)
    fitted = predict_logistic(params, x)
    r_in, c_in, h_in = recording_metrics(fitted, y, recs, rows, cut)
    print(
        f"in-sample at threshold {cut:.2f}: recall {r_in:.3f}, ADL clean {c_in:.3f}, "
        f"false alarms {h_in:.2f}/h of ADL; missed {missed(fitted, y, recs, rows, cut)}"
    )
    params.update(
        features=list(FEATURES),
        threshold=round(float(cut), 2),
        fitted_by="bench/fit_falls.py on falls-weda (leave-one-subject-out CV)",
        cv={
            "recall": round(recall, 4),
            "adl_clean": round(clean, 4),
            "false_alarms_per_hour": round(per_hour, 2),
        },
    )
    OUT.write_text(json.dumps(params, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
