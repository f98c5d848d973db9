"""Ingest next to the summary refresher: one ``bandhub ingest`` worker (slot 0, so with
its refresher) on the backlog pages of bench/ingest_runs.py, with the refresher off,
at its defaults, and saturated (every touched day recomputed after every batch), the
three alternated ``--reps`` times. Prints records/s.

    python bench/refresher_ingest.py [--records 200000] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ingest_runs
from bench.throwaway import throwaway_db

# BANDHUB_SUMMARY_REFRESH_S, BANDHUB_SUMMARY_DEBOUNCE_S
MODES = {"off": ("0", "300"), "defaults": ("10", "300"), "saturated": ("0.1", "0")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    pages = ingest_runs._messages(args.records, ingest_runs.PAGE)
    total = args.records // 50 * 50
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(args.reps):
        for mode, (every, debounce) in MODES.items():
            os.environ["BANDHUB_SUMMARY_REFRESH_S"] = every  # the workers' environment
            os.environ["BANDHUB_SUMMARY_DEBOUNCE_S"] = debounce
            rates[mode].append(ingest_runs._bandhub(throwaway_db, pages, total, 1))
            print(f"{mode}: {rates[mode][-1]:,.0f} records/s", flush=True)
    for mode, values in rates.items():
        print(f"{mode:<10}" + " / ".join(f"{r:,.0f}" for r in values))


if __name__ == "__main__":
    main()
