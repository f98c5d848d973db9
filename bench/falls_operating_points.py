"""Falls found against the share of ADL recordings kept clean: the shipped recipe at other
operating points (measured; writes nothing).

    python bench/falls_operating_points.py [--full] [--late] [--targets 0.9 0.95 0.975 0.99]

The shipped threshold keeps 97.5 % of each set's ADL recordings clean (the issue asks for
97 %). How many more falls a laxer threshold would find is a product decision (one false
alarm to an emergency contact against one missed fall), so this prints the trade for the
shipped recipe, the averaged trio of ``bench/fit_falls.py`` (two tree models and the CNN;
the fit needs the ``fit`` extra): every validation of
``bench/fit_falls.py`` (CV within each set, trained on one set and tested on the other,
the shared recipe scored per set), each fold's threshold chosen on its training subjects
only for the ADL-clean target of that row. The fits do not depend on the target, so each
is done once. ``--full`` leaves one subject out (default: four subject groups per set, as
``--quick``); ``--late`` scores as ingest's confirmation does (the late tree models and
the CNN's late net where 4 s follow the impact).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import fit_falls
from bench.falls_cnn import Mixed
from bench.falls_ensemble import validations

SHIPPED_CHOOSE_CUT = fit_falls.choose_cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="leave one subject out")
    parser.add_argument("--late", action="store_true", help="the 4-s confirmation")
    parser.add_argument("--targets", nargs="+", type=float, default=[0.9, 0.95, 0.975, 0.99])
    args = parser.parse_args()
    start = time.perf_counter()
    fit_falls.OUTER_FOLDS = 0 if args.full else 4
    fit_falls.TEST_VARIANTS = fit_falls.LATE_TEST_VARIANTS = ("full",)
    data = Mixed(fit_falls.SHIPPED_MEMBERS, variants=("full",))
    data.set_late(args.late)
    print("falls found / ADL recordings clean, as recorded; threshold per fold from its training")
    print(f"subjects for the ADL-clean target of the row ({'LOSO' if args.full else '4 groups'})")
    rows = {}
    for target in args.targets:
        fit_falls.choose_cut = functools.partial(SHIPPED_CHOOSE_CUT, target=target)
        runs = validations(data)
        rows[target] = {
            name: fit_falls.summary(data, res, mask)["full"] for name, (res, mask) in runs.items()
        }
    fit_falls.choose_cut = SHIPPED_CHOOSE_CUT
    names = list(next(iter(rows.values())))
    print(f"{'ADL-clean target':<18}" + "".join(f"{n:>30}" for n in names))
    for target, row in rows.items():
        cells = "".join(f"{f'{r:.1%} / {c:.1%}':>30}" for r, c in (row[n] for n in names))
        print(f"{target:<18.3f}{cells}")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
