"""Does an impact read the same at every sampling rate? Per feature set, per fall set.

    python bench/falls_rate_check.py [--features shipped peak-hold bandlimited ...]

For every fall trial, the largest impact height (``log_peak``, in g after exp) among its
candidates inside the fall window, as recorded and under the 20 Hz and ``rand`` (random
20-50 Hz device) variants; printed: the median height as recorded, the median ratio
other-rate / as-recorded and the share of falls whose height at the other rate is
within 15 % of the as-recorded one. A rate-independent height has ratio 1 and a high
share. Uses the candidate tables ``bench/fit_falls.py`` caches. ``bandlimited:10`` sets
``bench/falls_peak_bandlimited.CUTOFF_HZ`` to 10 Hz, ``bandlimited:none`` to no low-pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import falls_peak_bandlimited, fit_falls
from bench.falls_eval import SETS

OTHER = ("20hz", "rand")


def heights(data: fit_falls.Data, v: str) -> np.ndarray:
    """Per trial: the largest in-window impact height (g), NaN where no candidate is in it."""
    tab = data.tables[v]
    out = np.full(len(data.trials), -np.inf)
    np.maximum.at(out, tab.trial[tab.y], tab.x[tab.y, 0])
    return np.where(np.isfinite(out), np.exp(out), np.nan)


def configure(name: str) -> None:
    """Select a feature set, ``bandlimited:<cutoff Hz>`` setting the common low-pass."""
    base, _, cutoff = name.partition(":")
    fit_falls.feature_set = base
    if cutoff:
        falls_peak_bandlimited.CUTOFF_HZ = None if cutoff == "none" else float(cutoff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--features", nargs="+", default=["shipped", "peak-hold", "bandlimited:none", "bandlimited"]
    )
    args = parser.parse_args()
    print(f"{'features':<18}{'set':<16}{'median g':>9}" + "".join(
        f"{v + ' ratio':>12}{v + ' ±15 %':>12}" for v in OTHER))  # fmt: skip
    for name in args.features:
        configure(name)
        data = fit_falls.Data(variants=("full", *OTHER))
        full = heights(data, "full")
        for s in SETS:
            m = (data.dataset == s) & data.is_fall
            cells = f"{np.nanmedian(full[m]):>9.2f}"
            for v in OTHER:
                ratio = heights(data, v)[m] / full[m]
                ok = np.isfinite(ratio)
                close = np.mean(np.abs(ratio[ok] - 1) <= 0.15)
                cells += f"{np.median(ratio[ok]):>12.2f}{close:>12.1%}"
            print(f"{name:<18}{s:<16}{cells}", flush=True)


if __name__ == "__main__":
    main()
