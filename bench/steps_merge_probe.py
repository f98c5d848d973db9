"""The swinging walks' step counts pulled apart: the swing pass alone, the merge, each
quiet bout beside a swing bout.

    python bench/steps_merge_probe.py [params.json]

With the shipped parameters (or the given file), for every walk of steps-rieck as
recorded: the swing pass's count alone, the count with the quiet pass merged, and every
quiet bout that meets a swing bout (overlapping or within ``MAX_STEP_INTERVAL_S``): both
bouts' spans, steps, pace (median s per step) and step-band RMS, and whether the quiet
bout was kept, out-counted in the merge, or dropped as off pace (``_on_pace``). Held out,
every fold's fit gives each swinging walk its in-sample count (``bench/steps_heldout.py``),
so this is where the swinging walks' cross-validated error comes from. Takes seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import steps as S
from analytics.params import load
from bench.fit_steps import is_walking, load_recordings


def rms(c, b) -> float:
    return float(np.sqrt((c.energy[b.end] - c.energy[b.start]) / max(1, b.end - b.start)))


def text(c, b) -> str:
    span = f"{b.start / c.fs:.0f}-{b.end / c.fs:.0f} s"
    return f"{span} {b.steps} at {b.median_s:.2f} ({rms(c, b):.3f} g)"


def main() -> None:
    p = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else load("steps")
    errs, swing_errs = [], []
    for r, c in load_recordings():
        if not is_walking(r):
            continue
        true = int(r["true_steps"])
        swing, quiet = S._swing_bouts(c, p), S._quiet_bouts(c, p)
        n, n_swing = S._count(c, p).steps, sum(b.steps for b in swing)
        errs.append(abs(n - true) / true)
        swing_errs.append(abs(n_swing - true) / true)
        print(f"{r['recording']:<32} true {true:3d}  counted {n:3d} ({(n - true) / true:+.0%})"
              f"  swing pass alone {n_swing:3d} ({(n_swing - true) / true:+.0%})")  # fmt: skip
        kept, on_pace = S._count_bouts(c, p), S._on_pace(c, quiet, swing)
        near = S.MAX_STEP_INTERVAL_S * c.fs
        for q in quiet:
            met = [s for s in swing if s.start <= q.end + near and q.start <= s.end + near]
            state = "kept" if q in kept else "out-counted" if q in on_pace else "off pace"
            beside = "; ".join(text(c, s) for s in met) or "none"
            print(f"    quiet {text(c, q)} {state}; swing bouts beside it: {beside}")
    print(f"mean count error: {np.mean(errs):.2%} (swing pass alone {np.mean(swing_errs):.2%})")


if __name__ == "__main__":
    main()
