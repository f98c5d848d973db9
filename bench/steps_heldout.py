"""Per-walk held-out step counts: where the step counter's CV error comes from.

    python bench/steps_heldout.py

The same leave-one-set-out refit as ``bench/fit_steps.py`` (the three fitting stages on
three sets), but every held-out recording and non-swinging walk is printed with its
count and truth, and the signed errors are summed by pace: an error that is mostly
missed steps (negative) needs another fix than one that is mostly double counting.
Writes nothing; about as long as the fit's cross-validation (5-20 min).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.steps import _candidates, _count
from bench.fit_steps import fit, is_walking, load_recordings
from bench.steps_eval import load_recorded, non_swinging


def pace(recording: str) -> str:
    name = recording.split("_", 1)[1]
    return next((p for p in ("slow", "normal", "fast") if name.startswith(p)), "other")


def main() -> None:
    recs = load_recordings()
    walks = [(w, _candidates(w.mag, w.fs)) for w in non_swinging(load_recorded())]
    signed: dict[tuple[str, str], list[float]] = {}
    for held in sorted({r["set"] for r, _ in recs}):
        params = fit(
            [x for x in recs if x[0]["set"] != held],
            [(w.row, c) for w, c in walks if w.row["set"] != held],
        )
        print(f"held out {held}")
        rows = [(r, "swinging" if is_walking(r) else "non-walking", c) for r, c in recs]
        rows += [(w.row, w.kind, c) for w, c in walks]
        for r, kind, c in rows:
            if r["set"] != held:
                continue
            n, true = _count(c, params).steps, int(r["true_steps"])
            if kind == "non-walking":
                print(f"  {r['recording']:<34} {kind:<12} {n:4d} of {true:3d}")
                continue
            e = (n - true) / true
            signed.setdefault((kind, pace(r["recording"])), []).append(e)
            print(f"  {r['recording']:<34} {kind:<12} {n:4d} of {true:3d}  {e:+.0%}")
    print("\nby kind and pace: walks, mean |error|, sum of relative errors over / under")
    for (kind, p), errs in sorted(signed.items()):
        e = np.array(errs)
        print(f"  {kind:<12} {p:<7} {e.size:3d}  {np.abs(e).mean():6.1%}  "
              f"+{e[e > 0].sum():.2f} / {e[e < 0].sum():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
