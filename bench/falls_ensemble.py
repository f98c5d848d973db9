"""The shipped fall model and the peak-hold one, their probabilities averaged (measured).

    python bench/falls_ensemble.py [--no-late] [--full] [--members shipped bandlimited:10]
        [--variants full 20hz rand]

The two trade against each other across the sets (docs/analytics.md): the shipped
impact height is what a model fitted on FallAllD needs on WEDA-FALL, the peak hold what
one fitted on WEDA-FALL needs on FallAllD. Both score the same candidates (the peak hold
only replaces five columns), so their probabilities can be averaged per candidate and
put through the same validations as ``bench/fit_falls.py --quick`` (four subject groups
per set, each threshold chosen on the training subjects; ``--full``: leave one subject
out, as ``bench/fit_falls.py`` without ``--quick``). Each member alone is validated first
in the same run, on the same folds, so the average is compared with the shipped model
side by side. ``--members`` names the feature sets (``bandlimited:10``: the band-limited
peak with a common 10 Hz low-pass, ``bench/falls_peak_bandlimited.py``). Writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.falls import LATE_ROOM_S, tree_scores
from bench import fit_falls
from bench.falls_eval import SETS
from bench.falls_rate_check import configure


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

    def __init__(
        self,
        members: tuple[str, ...] = ("shipped", "peak-hold"),
        variants: tuple[str, ...] | None = None,
    ) -> None:
        self.members = []
        for name in members:
            configure(name)
            self.members.append(fit_falls.Data(variants=variants or fit_falls.TEST_VARIANTS))
        shipped = self.members[0]
        for other in self.members[1:]:  # the same candidates in the same order
            for v, tab in shipped.tables.items():
                assert np.array_equal(tab.trial, other.tables[v].trial)
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
        return self.best_per_trial(self.tables[v], keep, p)


def validations(data: fit_falls.Data) -> dict[str, tuple[dict, np.ndarray]]:
    """``fit_falls.validate``'s validations: per name, per-trial results and scored mask."""
    by_set = {s: data.dataset == s for s in SETS}
    out = {f"cv {s}": (fit_falls.nested(data, m)[0], m) for s, m in by_set.items()}
    for s, m in by_set.items():
        (other,) = [o for o in SETS if o != s]
        out[f"{s} -> {other}"] = (fit_falls.nested(data, m, by_set[other])[0], by_set[other])
    both = fit_falls.nested(data, np.ones(len(data.trials), bool))[0]
    out.update({f"cv both, {s}": (both, m) for s, m in by_set.items()})
    return out


def device_rate(trial: fit_falls.Trial, v: str) -> float:
    """The sampling rate of ``trial`` under variant ``v`` (as ``falls_eval.variant`` draws it)."""
    if v == "rand":
        return float(np.random.default_rng(zlib.crc32(trial.recording.encode())).uniform(20, 50))
    return {"20hz": 20.0, "32hz": 32.0, "crop4-8": 32.0}.get(v, trial.fs)


def gated(data: fit_falls.Data, alone: dict, averaged: dict, gate_hz: float) -> dict:
    """Per-trial results of the average where the device samples at ``gate_hz`` or more,
    of the first member alone (its own threshold) below."""
    out = {}
    for name, (res, mask) in averaged.items():
        out[name] = ({}, mask)
        for v, r in res.items():
            low = np.array([device_rate(t, v) < gate_hz for t in data.trials])
            out[name][0][v] = {k: np.where(low, alone[name][0][v][k], r[k]) for k in r}
    return out


def print_table(data: fit_falls.Data, label: str, runs: dict) -> None:
    for name, (res, mask) in runs.items():
        fit_falls.report(f"{label} {name}", fit_falls.summary(data, res, mask))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-late", action="store_true", help="skip the late model")
    parser.add_argument("--full", action="store_true", help="leave one subject out")
    parser.add_argument("--members", nargs="+", default=["shipped", "peak-hold"])
    parser.add_argument("--variants", nargs="+", default=["full", "crop4-8", "20hz"])
    parser.add_argument("--gate", type=float, help="average only from this device rate (Hz) up")
    args = parser.parse_args()
    start = time.perf_counter()
    fit_falls.OUTER_FOLDS = 0 if args.full else 4
    fit_falls.TEST_VARIANTS = tuple(args.variants)
    fit_falls.LATE_TEST_VARIANTS = tuple(v for v in args.variants if not v.startswith("crop"))
    data = Ensemble(tuple(args.members))
    print("recall/ADL clean per test variant (found in the fall window / no alarm)")
    for late in (False, True) if not args.no_late else (False,):
        suffix = " late" if late else ""
        alone = []
        for name, member in zip(args.members, data.members, strict=True):
            member.late = late
            alone.append(validations(member))
            print_table(member, name + suffix, alone[-1])
        data.set_late(late)
        averaged = validations(data)
        print_table(data, "averaged" + suffix, averaged)
        if args.gate:
            label = f"averaged from {args.gate:g} Hz{suffix}"
            print_table(data, label, gated(data, alone[0], averaged, args.gate))
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
