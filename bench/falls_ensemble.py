"""The shipped fall model and the peak-hold one, their probabilities averaged (measured).

    python bench/falls_ensemble.py [--no-late]

The two trade against each other across the sets (docs/analytics.md): the shipped
impact height is what a model fitted on FallAllD needs on WEDA-FALL, the peak hold what
one fitted on WEDA-FALL needs on FallAllD. Both score the same candidates (the peak hold
only replaces five columns), so their probabilities can be averaged per candidate and
put through the same validations as ``bench/fit_falls.py --quick`` (four subject groups
per set, each threshold chosen on the training subjects). Writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.falls import LATE_ROOM_S, tree_scores
from bench import fit_falls


def candidate_scores(params: dict, tab: fit_falls.Table, keep: np.ndarray) -> np.ndarray:
    """Per kept candidate, as the detector scores it (late model where 4 s follow)."""
    x = tab.x[keep]
    p = tree_scores(params, x[:, : fit_falls.SHORT])
    if "late" in params:
        use = tab.room[keep] >= LATE_ROOM_S
        p[use] = tree_scores(params["late"], x[use])
    return p


class Ensemble(fit_falls.Data):
    """A Data whose model is a pair (shipped, peak-hold) scored by the mean probability."""

    def __init__(self) -> None:
        self.members = []
        for name in ("shipped", "peak-hold"):
            fit_falls.feature_set = name
            self.members.append(fit_falls.Data(variants=fit_falls.TEST_VARIANTS))
        shipped, peak = self.members
        for v, tab in shipped.tables.items():  # the same candidates in the same order
            assert np.array_equal(tab.trial, peak.tables[v].trial)
        self.__dict__.update({k: v for k, v in shipped.__dict__.items() if k != "_fits"})

    def set_late(self, late: bool) -> None:
        """Score with the late models too (each member keeps its 2-s fits)."""
        self.late = late
        for m in self.members:
            m.late = late

    def fit(self, train: np.ndarray) -> dict:
        return {"pair": [m.fit(train) for m in self.members]}

    def trial_scores(self, params: dict, v: str, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        keep = mask[self.tables[v].trial]
        p = np.mean(
            [
                candidate_scores(pm, m.tables[v], keep)
                for pm, m in zip(params["pair"], self.members, strict=True)
            ],
            axis=0,
        )
        tab = self.tables[v]
        y, owner = tab.y[keep], tab.trial[keep]
        hit, alarm = np.full(len(self.trials), -1.0), np.full(len(self.trials), -1.0)
        np.maximum.at(hit, owner[y], p[y])
        np.maximum.at(alarm, owner[~y], p[~y])
        return hit, alarm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-late", action="store_true", help="skip the late model")
    args = parser.parse_args()
    start = time.perf_counter()
    fit_falls.OUTER_FOLDS = 4
    fit_falls.TEST_VARIANTS = ("full", "crop4-8", "20hz")
    fit_falls.LATE_TEST_VARIANTS = ("full", "20hz")
    data = Ensemble()
    print("recall/ADL clean per test variant (found in the fall window / no alarm)")
    fit_falls.validate(data, {}, "ensemble ")
    if not args.no_late:
        data.set_late(True)
        fit_falls.validate(data, {}, "ensemble late ")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
