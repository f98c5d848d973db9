"""Which fall features mean the same on both fall sets: per-set AUC and medians.

    python bench/falls_shift.py [--features peak-hold]

For every feature, the AUC of fall candidates (inside a fall's window) against every
candidate of an ADL recording, and both medians, within each set. A feature whose
medians for falls move between the sets (the device's filter, its mattress) or whose
AUC flips side teaches a model fitted on one set something the other does not share.
Reads the candidate tables ``bench/fit_falls.py`` caches (as-recorded trials).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.falls import FEATURES, LATE_FEATURES
from bench import fit_falls
from bench.falls_eval import SETS


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a fall candidate's value exceeds an ADL candidate's (ties: half)."""
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable")) + 1
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", choices=fit_falls.FEATURE_SETS, default="shipped")
    fit_falls.feature_set = parser.parse_args().features
    data = fit_falls.Data(variants=("full",))
    tab = data.tables["full"]
    owner_set, adl = data.dataset[tab.trial], ~data.is_fall[tab.trial]
    print(f"{'feature':<24}" + "".join(f"{s:>36}" for s in SETS))
    print(f"{'':<24}" + "   AUC  median fall  median ADL" * len(SETS))
    for f, name in enumerate((*FEATURES, *LATE_FEATURES)):
        cells = ""
        for s in SETS:
            pos, neg = tab.x[(owner_set == s) & tab.y, f], tab.x[(owner_set == s) & adl, f]
            cells += f"{auc(pos, neg):>6.2f} {np.median(pos):>12.3f} {np.median(neg):>11.3f}"
        print(f"{name:<24}{cells}")


if __name__ == "__main__":
    main()
