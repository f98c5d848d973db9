"""Fit the fall model (analytics/params/falls.json) on both fall sets, subject-wise.

    python bench/fit_falls.py          # prints every validation and rewrites the params
    python bench/fit_falls.py --quick  # to iterate: 4 subject groups, as recorded, no write

``--features peak-hold`` scores the same recipe with the impact height taken from a
peak hold of the unfiltered |a| (``bench/falls_peak_hold.py``, measured, not shipped);
``--augment rand`` adds a training copy of every trial as a random device would record
it (20-50 Hz point samples at a random phase, gain +-5 %).

``--quick`` scores the same recipe on four subject groups per set instead of leaving
one subject out, on the as-recorded trials only, and leaves the params alone (minutes
against about an hour for the full fit from empty caches; ``--no-late`` halves either).
Its figures are for comparing recipes, not for the docs. Candidate features are cached
in /tmp per detector source, so only a change to ``analytics/falls.py`` recomputes them.

The shipped recipe is three models averaged (``SHIPPED_MEMBERS``): trees on the 20
features, the same with the impact height from ``analytics.falls.held_peak``, and a small
1-D CNN on each candidate's ±2 s window (``bench/falls_cnn.py``; PyTorch for the fit only,
``pip install .[fit]``); each is fitted as below, the thresholds are chosen on the averaged
probabilities, and the second and third are written as ``peak`` and ``cnn`` in the params
(``bench/falls_ensemble.py``, ``bench/falls_cnn.py``). Where the late tree models score
(below), the CNN member is its ±2 s net averaged with a late net on 2 s before to 4 s
after the impact (``late`` in ``cnn``).

Two sets from two labs and devices (falls-weda: Fitbit Sense, 40/50 Hz, ±4 g;
falls-fallalld: its own device, 238 Hz, 20 s trials) are fitted together, the
smaller one weighted up so each set counts the same. The training data are augmented
with the same trials as a 20 Hz device and as a smartwatch that keeps 4-8 s around
the fall would record them. The threshold is the lowest whose out-of-fold
predictions keep at least 97.5 % of ADL recordings clean in *each* set (the median
of the leave-one-subject-out folds' thresholds, each chosen on its training subjects).

Printed, all leave-one-subject-out (a subject's trials are never fitted on when
they are scored) with each fold's threshold chosen on its training subjects only, by
a CV over three groups of them (leave-one-subject-out inside would take an hour):
- CV within each set (fitted on that set only);
- trained on one set, tested on the other (nothing of the test set seen);
- the shipped recipe (both sets), on the full, cropped and resampled trials.
The cross-dataset figures are the ones that predict a new device.

Then the same validations for the late model (``late`` in the params: the 20 features
plus LATE_FEATURES from 2-4 s after the impact, fitted on the as-recorded and 20 Hz
trials' candidates that have those 4 s, with the CNN's late net), scored as the detector
uses it: the late models where a candidate has LATE_ROOM_S after it, the 2-s models
elsewhere. Fits are cached per training mask (the CNN's on disk), so the late
validations reuse the 2-s fits (64 min in all from empty caches on a 2-core machine,
half of it the late nets; minutes when the caches hold them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import falls
from analytics.falls import (
    FEATURES,
    LATE_FEATURES,
    LATE_ROOM_S,
    LATE_S,
    PEAK_FEATURES,
    tree_scores,
)
from bench import falls_peak_bandlimited, falls_peak_hold
from bench.boosting import fit_trees
from bench.falls_eval import SETS, Trial, load_trials, variant

ADL_CLEAN_TARGET = 0.975
OUTER_FOLDS = 0  # 0: leave one subject out; --quick: this many subject groups
INNER_FOLDS = 3  # subject groups for choosing a fold's threshold (LOSO inside is slow)
TRAIN_VARIANTS = ("full", "20hz", "crop4-8")
TEST_VARIANTS = ("full", "crop2", "crop4-8", "20hz", "32hz")
LATE_TRAIN_VARIANTS = ("full", "20hz")  # the late model needs LATE_S after the impact
LATE_TEST_VARIANTS = ("full", "20hz", "32hz")
SHORT = len(FEATURES)
FEATURE_SETS = {
    "shipped": falls,
    "peak-hold": falls_peak_hold,
    "bandlimited": falls_peak_bandlimited,
}  # module: candidate_features
feature_set = "shipped"
# averaged: analytics.falls.scored_candidates (``cnn``: bench/falls_cnn.py)
SHIPPED_MEMBERS = ("shipped", "bandlimited", "cnn")
OUT = Path(__file__).resolve().parents[1] / "analytics" / "params" / "falls.json"


@dataclass
class Table:
    """Candidates of a list of trials: features (FEATURES then LATE_FEATURES), in-fall-window
    label, owning trial, and seconds of recording after the candidate."""

    x: np.ndarray
    y: np.ndarray
    trial: np.ndarray
    room: np.ndarray


def _source_key() -> str:
    """Detector source (and the alternative feature module's, when used)."""
    sources = {falls, FEATURE_SETS[feature_set]}
    text = b"".join(Path(m.__file__).read_bytes() for m in sorted(sources, key=str))
    tag = getattr(FEATURE_SETS[feature_set], "variant_tag", lambda: "")()
    return hashlib.sha1(text + tag.encode()).hexdigest()[:10]


def candidate_table(trials: list[Trial], name: str) -> Table:
    """Candidates of every trial under variant ``name``, cached in /tmp by detector source."""
    cache = Path(f"/tmp/bandhub_falls_{name}_{_source_key()}_{len(trials)}.npz")
    features_of = FEATURE_SETS[feature_set].candidate_features
    if cache.exists():
        d = np.load(cache)
        return Table(d["x"], d["y"], d["trial"], d["room"])
    xs, ys, owner, room = [], [], [], []
    for k, t in enumerate(trials):
        v = variant(t, name)
        times, feats = features_of(v.acc, v.fs, late=True)
        for s, f in zip(times, feats, strict=True):
            xs.append(f)
            ys.append(bool(v.window and v.window[0] <= s <= v.window[1]))
            owner.append(k)
            room.append((len(v.acc) - 1) / v.fs - s)
    width = len(FEATURES) + len(LATE_FEATURES)
    table = Table(np.array(xs).reshape(-1, width), np.array(ys), np.array(owner), np.array(room))
    np.savez(cache, x=table.x, y=table.y, trial=table.trial, room=table.room)
    return table


class Data:
    """All trials, their candidate tables per variant, and fitting/scoring on subsets.

    With ``late`` a model is the 2-s model plus a ``late`` one for the candidates with
    LATE_S of recording after them, as ``analytics.falls.scored_candidates`` uses them.
    """

    def __init__(self, late: bool = False, variants: tuple[str, ...] = TEST_VARIANTS) -> None:
        self.trials = load_trials()
        self.subject = np.array([t.subject for t in self.trials])
        self.dataset = np.array([t.dataset for t in self.trials])
        self.is_fall = np.array([t.is_fall for t in self.trials])
        needed = dict.fromkeys([*variants, *TRAIN_VARIANTS])
        self.tables = {v: candidate_table(self.trials, v) for v in needed}
        self.late = late
        self._fits: dict[tuple[bytes, bool], dict] = {}

    def set_late(self, late: bool) -> None:
        """Score with the late model too where a candidate has LATE_S after it."""
        self.late = late

    def fit(self, train: np.ndarray) -> dict:
        """The model for the trials in mask ``train``; each fit is done once per mask."""
        params = self._fit(train, late=False)
        return {**params, "late": self._fit(train, late=True)} if self.late else params

    def _fit(self, train: np.ndarray, late: bool) -> dict:
        """Fit on the trials in mask ``train`` (all training variants), sets weighted equally."""
        key = (np.packbits(train).tobytes(), late)
        if key in self._fits:
            return self._fits[key]
        xs, ys, ws = [], [], []
        for v in LATE_TRAIN_VARIANTS if late else TRAIN_VARIANTS:
            tab = self.tables[v]
            keep = train[tab.trial] & ((tab.room >= LATE_ROOM_S) if late else True)
            xs.append(tab.x[keep] if late else tab.x[keep, :SHORT])
            ys.append(tab.y[keep])
            owner_set = self.dataset[tab.trial[keep]]
            ws.append(np.array([1.0 / np.sum(self.dataset[train] == s) for s in owner_set]))
        self._fits[key] = fit_trees(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws))
        return self._fits[key]

    def trial_scores(self, params: dict, v: str, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per trial in ``mask``: best in-window score and best false-alarm score."""
        tab = self.tables[v]
        keep = mask[tab.trial]
        p = tree_scores(params, tab.x[keep])
        if "late" in params:
            use = tab.room[keep] >= LATE_ROOM_S
            p[use] = tree_scores(params["late"], tab.x[keep][use])
        return self.best_per_trial(tab, keep, p)

    def best_per_trial(self, tab: Table, keep: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per trial, from the scores ``p`` of the kept candidates of ``tab``: the best
        in-window score and the best false-alarm score (-1: none)."""
        y, owner = tab.y[keep], tab.trial[keep]
        hit, alarm = np.full(len(self.trials), -1.0), np.full(len(self.trials), -1.0)
        np.maximum.at(hit, owner[y], p[y])
        np.maximum.at(alarm, owner[~y], p[~y])
        return hit, alarm

    def oof(self, mask: np.ndarray, folds: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold per-trial scores on ``mask``: subjects left out one at a time, or in
        ``folds`` groups."""
        hit, alarm = np.full(len(self.trials), -1.0), np.full(len(self.trials), -1.0)
        for group in subject_groups(self.subject[mask], folds):
            test = mask & np.isin(self.subject, group)
            h, a = self.trial_scores(self.fit(mask & ~test), "full", test)
            hit[test], alarm[test] = h[test], a[test]
        return hit, alarm


def subject_groups(subjects: np.ndarray, folds: int) -> list[np.ndarray]:
    """One group per subject (``folds`` 0), or the subjects dealt into ``folds`` groups."""
    unique = np.unique(subjects)
    return (
        [unique[k::folds] for k in range(folds)]
        if folds
        else [unique[k : k + 1] for k in range(unique.size)]
    )


def choose_cut(alarm: np.ndarray, adl: np.ndarray, target: float = ADL_CLEAN_TARGET) -> float:
    """Lowest threshold (3 decimals) leaving at least ``target`` of the ADL trials clean."""
    scores = np.sort(alarm[adl])[::-1]
    allowed = int(np.floor((1 - target) * scores.size + 1e-9))
    return float(np.floor(max(scores[allowed], 0) * 1000) + 1) / 1000


def cut_for(data: Data, alarm: np.ndarray, mask: np.ndarray) -> float:
    """Threshold that keeps the target on each set present in ``mask``."""
    return max(
        choose_cut(alarm, mask & ~data.is_fall & (data.dataset == s))
        for s in np.unique(data.dataset[mask])
    )


def metrics(data: Data, hit, alarm, cut: float, mask: np.ndarray) -> tuple[float, float]:
    """Share of fall trials found in their window, share of ADL trials without an alarm."""
    falls_, adl = mask & data.is_fall, mask & ~data.is_fall
    return float(np.mean(hit[falls_] >= cut)), float(np.mean(alarm[adl] < cut))


def nested(
    data: Data, mask: np.ndarray, test_mask: np.ndarray | None = None
) -> tuple[dict, list[float]]:
    """LOSO on ``mask``; each fold's threshold from an inner LOSO on its training subjects.

    With ``test_mask`` the model is fitted on all of ``mask`` instead, its threshold
    chosen by LOSO within ``mask``, and scored on ``test_mask`` (cross-dataset).
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    if test_mask is not None:
        cut = cut_for(data, data.oof(mask, INNER_FOLDS)[1], mask)
        params = data.fit(mask)
        folds = [(params, cut, test_mask)]
    else:
        folds = []
        for group in subject_groups(data.subject[mask], OUTER_FOLDS):
            test = mask & np.isin(data.subject, group)
            train = mask & ~test
            cut = cut_for(data, data.oof(train, INNER_FOLDS)[1], train)
            folds.append((data.fit(train), cut, test))
    for v in [v for v in (LATE_TEST_VARIANTS if data.late else TEST_VARIANTS) if v in data.tables]:
        found = np.zeros(len(data.trials), bool)
        clean = np.ones(len(data.trials), bool)
        for params, cut, test in folds:
            hit, alarm = data.trial_scores(params, v, test)
            found[test], clean[test] = hit[test] >= cut, alarm[test] < cut
        out[v] = {"found": found, "clean": clean}
    return out, [cut for _, cut, _ in folds]


def summary(data: Data, res: dict, mask: np.ndarray) -> dict[str, list[float]]:
    """Recall and ADL-clean share per test variant over the trials in ``mask``."""
    return {
        v: [round(float(r["found"][mask & data.is_fall].mean()), 4),
            round(float(r["clean"][mask & ~data.is_fall].mean()), 4)]
        for v, r in res.items()
    }  # fmt: skip


def missed(data: Data, found: np.ndarray, mask: np.ndarray) -> dict[str, int]:
    """Missed falls per activity code, to see which fall types remain hard."""
    miss = mask & data.is_fall & ~found
    return dict(sorted(Counter(data.trials[k].activity for k in np.flatnonzero(miss)).items()))


def _rounded(v: list | float) -> list | float:
    """Nested lists of weights to 7 decimals (the CNN's tensors)."""
    return [_rounded(x) for x in v] if isinstance(v, list) else round(v, 7)


def to_json(params: dict) -> str:
    """The params as JSON with one tree per line, so a refit reads as a short diff."""
    trees: dict[str, tuple[list, str]] = {}

    def lines(rows: list, indent: str) -> str:
        text = [json.dumps([round(v, 6) for v in tree]) for tree in rows]
        return "[\n" + indent + f",\n{indent}".join(text) + "\n" + indent[:-1] + "]"

    def placeholders(d: dict, depth: int) -> dict:
        out = {}
        for k, v in d.items():
            if k in ("trees", "weights"):  # a tree, or one of the CNN's tensors, a line
                out[k] = f"TREES{len(trees)}"
                trees[out[k]] = (v, " " * (depth + 1))
            elif isinstance(v, dict) and k != "validation":
                out[k] = placeholders(v, depth + 1)
            else:
                out[k] = v
        return out

    def tensors(named: dict, indent: str) -> str:
        text = [f"{json.dumps(k)}: {json.dumps(_rounded(v))}" for k, v in named.items()]
        return "{\n" + indent + f",\n{indent}".join(text) + "\n" + indent[:-1] + "}"

    text = json.dumps(placeholders(params, 1), indent=1)
    for key, (rows, indent) in trees.items():
        block = tensors(rows, indent) if isinstance(rows, dict) else lines(rows, indent)
        text = text.replace(f'"{key}"', block)
    return text + "\n"


def report(name: str, table: dict[str, list[float]]) -> None:
    cells = "  ".join(f"{v} {r:.1%}/{c:.1%}" for v, (r, c) in table.items())
    print(f"{name:<34} {cells}", flush=True)


def validate(data: Data, results: dict[str, dict], prefix: str) -> float:
    """Every validation of the current recipe into ``results``; returns the shipped cut."""
    both = np.ones(len(data.trials), bool)
    by_set = {s: data.dataset == s for s in SETS}
    for s, m in by_set.items():
        res, _ = nested(data, m)
        results[f"{prefix}cv {s}"] = summary(data, res, m)
        report(f"{prefix}CV within {s}", results[f"{prefix}cv {s}"])
        print(f"  missed (full): {missed(data, res['full']['found'], m)}")
    for s, m in by_set.items():
        (other,) = [o for o in SETS if o != s]
        res, _ = nested(data, m, by_set[other])
        results[f"{prefix}{s} -> {other}"] = summary(data, res, by_set[other])
        report(f"{prefix}trained {s} -> {other}", results[f"{prefix}{s} -> {other}"])
    res, cuts = nested(data, both)
    for s, m in by_set.items():
        results[f"{prefix}cv both, {s}"] = summary(data, res, m)
        report(f"{prefix}CV on both sets, scored on {s}", results[f"{prefix}cv both, {s}"])
        print(f"  missed (full): {missed(data, res['full']['found'], m)}")
    return float(np.median(cuts))  # each fold's cut was chosen on its training subjects


def main() -> None:
    global OUTER_FOLDS, TRAIN_VARIANTS, feature_set
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 subject groups, no write")
    parser.add_argument("--no-late", action="store_true", help="skip the late model")
    parser.add_argument("--features", choices=FEATURE_SETS, help="one model on these features")
    parser.add_argument("--augment", choices=["rand"], nargs="*", default=[])
    args = parser.parse_args()
    TRAIN_VARIANTS = (*TRAIN_VARIANTS, *args.augment)
    start = time.perf_counter()
    if args.quick:
        OUTER_FOLDS = 4
    if args.features:
        feature_set = args.features
        data = Data(variants=("full",) if args.quick else TEST_VARIANTS)
    else:  # the shipped recipe: the 8 Hz and held-peak tree models and the CNN averaged
        from bench.falls_cnn import Mixed

        data = Mixed(SHIPPED_MEMBERS, variants=("full",) if args.quick else TEST_VARIANTS)
    both = np.ones(len(data.trials), bool)
    results: dict[str, dict] = {}
    print("recall/ADL clean per test variant (found in the fall window / no alarm)")
    cut = validate(data, results, "")
    if not args.no_late:
        print(f"late model: the 2-s one plus {len(LATE_FEATURES)} features to {LATE_S:g} s after")
        data.set_late(True)
        late_cut = validate(data, results, "late ")
    print(f"{time.perf_counter() - start:.0f} s", flush=True)
    if args.quick or args.no_late or args.features or args.augment:
        return
    params, peak, cnn = data.fit(both)["pair"]
    for member in (params, peak):
        member["late"]["features"] = [*FEATURES, *LATE_FEATURES]
        member["features"] = list(FEATURES)
    peak["impact_height"] = f"held peak, {falls.PEAK_CUTOFF_HZ:g} Hz ({', '.join(PEAK_FEATURES)})"
    params["late"]["threshold"] = late_cut
    from bench.falls_cnn import CHANNELS, check_windows, torch_probability

    cnn.update(channels=list(CHANNELS), fitted_by="bench/falls_cnn.py (PyTorch, seeded)")
    for net, late in ((cnn, False), (cnn["late"], True)):
        check = torch_probability(net, check_windows(late))
        net["torch_check_logits"] = [round(float(v), 5) for v in np.log(check / (1 - check))]
    params.update(
        threshold=cut,
        peak=peak,
        cnn=cnn,
        fitted_by="bench/fit_falls.py on falls-weda + falls-fallalld (leave-one-subject-out)",
        validation=results,
    )
    OUT.write_text(to_json(params))
    print(f"threshold {cut:.3f}, late {late_cut:.3f}; wrote {OUT}")


if __name__ == "__main__":
    main()
