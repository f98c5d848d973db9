"""Fall recordings of both sets, and the device and protocol changes to test on.

Both fall sets (falls-weda, falls-fallalld) are read into one list of trials. The
variants (cropped around the impact, resampled to 20 or 32 Hz) mimic the devices and
protocols the detector has not seen: a smartwatch set whose trials are cut to 4-8 s
around the fall, a 20 Hz band. Reading 3,300 gzip files takes a minute, so the
trials are cached in a pickle under /tmp (never committed).
"""

from __future__ import annotations

import os
import pickle
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from analytics import signal
from bench.datasets import FALL_SETS, fall_recording, labels

SETS = FALL_SETS
CACHE = Path(os.environ.get("BANDHUB_FALLS_CACHE", "/tmp/bandhub_falls_trials.pkl"))


@dataclass(frozen=True)
class Trial:
    dataset: str
    recording: str
    subject: str
    activity: str
    is_fall: bool
    window: tuple[float, float] | None  # fall start/end (s), widened by 0.5 s each side
    acc: np.ndarray  # (n, 3) in g
    fs: float

    @property
    def seconds(self) -> float:
        return self.acc.shape[0] / self.fs


def read_trial(dataset: str, row: dict[str, str]) -> Trial:
    acc, fs = fall_recording(dataset, row["recording"])
    fall = row["is_fall"] == "1"
    window = (float(row["fall_start_s"]) - 0.5, float(row["fall_end_s"]) + 0.5) if fall else None
    return Trial(
        dataset,
        row["recording"],
        f"{dataset}:{row['subject']}",
        row["activity"],
        fall,
        window,
        acc,
        fs,
    )


def load_trials(datasets: tuple[str, ...] = SETS) -> list[Trial]:
    """Every trial of the named sets, from the /tmp cache when it is there."""
    if CACHE.exists():
        cached = pickle.loads(CACHE.read_bytes())
    else:
        cached = [read_trial(d, r) for d in SETS for r in labels(d)]
        CACHE.write_bytes(pickle.dumps(cached))
    return [t for t in cached if t.dataset in datasets]


def impact_time(trial: Trial) -> float:
    """Largest |a| inside the labelled fall window (or of the recording, for ADL)."""
    mag = np.linalg.norm(trial.acc, axis=1)
    lo, hi = (0, mag.size)
    if trial.window is not None:
        lo = max(0, int(trial.window[0] * trial.fs))
        hi = min(mag.size, max(lo + 1, int(trial.window[1] * trial.fs)))
    return (lo + int(np.argmax(mag[lo:hi]))) / trial.fs


def crop(trial: Trial, before: float, after: float, at: float | None = None) -> Trial:
    """The trial cut to ``before``..``after`` seconds around its impact (or ``at``)."""
    t0 = impact_time(trial) if at is None else at
    lo = max(0, round((t0 - before) * trial.fs))
    hi = min(trial.acc.shape[0], round((t0 + after) * trial.fs))
    shift = lo / trial.fs
    window = None if trial.window is None else (trial.window[0] - shift, trial.window[1] - shift)
    return replace(trial, acc=trial.acc[lo:hi], window=window)


def resample(trial: Trial, fs: float) -> Trial:
    """The trial as a device sampling at ``fs`` would see it (point samples, no filter)."""
    return replace(trial, acc=signal.resample(trial.acc, trial.fs, fs), fs=fs)


def variant(trial: Trial, name: str, rng: np.random.Generator | None = None) -> Trial:
    """A named device/protocol change: 'full', 'crop2' (±2 s), 'crop4-8', '20hz', '32hz',
    'rand' (a random device: 20-50 Hz point samples at a random phase, gain ±5 %).

    'crop4-8' mimics the smartwatch set: 4-8 s in all, the impact placed at random
    inside with at least 1.5 s on either side. ADL trials are cut around their own
    largest |a|, the hardest place for them.
    """
    rng = rng or np.random.default_rng(zlib.crc32(trial.recording.encode()))
    if name == "full":
        return trial
    if name == "crop2":
        return crop(trial, 2.0, 2.0)
    if name == "crop4-8":
        total = rng.uniform(4.0, 8.0)
        before = rng.uniform(1.5, total - 1.5)
        return resample(crop(trial, before, total - before), 32.0)
    if name == "rand":
        # another device: a random rate (point samples at a random phase), gain +-5 %
        fs = rng.uniform(20.0, 50.0)
        start = rng.uniform(0.0, 1.0 / fs)
        t_old = np.arange(trial.acc.shape[0]) / trial.fs
        t_new = np.arange(start, t_old[-1], 1.0 / fs)
        acc = np.column_stack([np.interp(t_new, t_old, trial.acc[:, k]) for k in range(3)])
        window = (
            None if trial.window is None else (trial.window[0] - start, trial.window[1] - start)
        )
        return replace(trial, acc=acc * rng.uniform(0.95, 1.05), fs=fs, window=window)
    if name in ("20hz", "32hz"):
        return resample(trial, float(name[:-2]))
    raise ValueError(f"unknown variant {name!r}")


def found(trial: Trial, times: list[float]) -> bool:
    """A fall trial counts as found when an alarm lies in its widened fall window."""
    assert trial.window is not None
    lo, hi = trial.window
    return any(lo <= t <= hi for t in times)


VARIANTS = {
    "full": "as recorded",
    "crop2": "cut to 2 s before..2 s after",
    "crop4-8": "cut to 4-8 s, at 32 Hz",
    "20hz": "resampled to 20 Hz",
    "32hz": "resampled to 32 Hz",
}


def shipped_scores(trials: list[Trial], name: str) -> tuple[float, float, float]:
    """The shipped detector on every trial under variant ``name``: recall, ADL clean, alarms/h."""
    from analytics.falls import detect_falls

    hits, clean, alarms, adl_s = [], [], 0, 0.0
    for trial in trials:
        v = variant(trial, name)
        times = [e.t for e in detect_falls(v.acc, v.fs)]
        if v.is_fall:
            hits.append(found(v, times))
        else:
            clean.append(not times)
            alarms += len(times)
            adl_s += v.seconds
    return float(np.mean(hits)), float(np.mean(clean)), alarms / (adl_s / 3600)


def print_bench(row) -> None:
    """The falls rows of bench/accuracy.py: each set, held out every way, side by side.

    Held-out figures are the ones bench/fit_falls.py recorded in the params (each fold's
    threshold chosen on its training subjects): CV within the set, trained on the other
    set only (what a new device gets), CV over both sets (the shipped recipe); each for
    the 2-s decision the band makes and the 4-s confirmation ingest makes (the late
    model where a trial runs on 4 s after the impact, the 2-s one where it does not).
    Last, the shipped model run here on every trial (fitted on both sets: in-sample).
    """
    from analytics.params import load

    val = load("falls")["validation"]
    names = {"full": "as rec.", "crop2": "+-2 s", "crop4-8": "4-8 s", "20hz": "20 Hz",
             "32hz": "32 Hz"}  # fmt: skip

    def cells(key: str, late: bool) -> tuple[str, str]:
        """(as recorded, the other variants) of one validation."""
        out = {}
        for v in VARIANTS:
            r, c = (val.get(f"late {key}", {}).get(v) if late else None) or val[key][v]
            out[v] = f"{r:.1%}/{c:.1%}"
        rest = "  ".join(f"{names[v]} {out[v]}" for v in VARIANTS if v != "full")
        return out["full"], rest

    for ds in SETS:
        (other,) = [s for s in SETS if s != ds]
        trials = load_trials((ds,))
        n_fall = sum(t.is_fall for t in trials)
        subjects = len({t.subject for t in trials})
        print(f"\n{ds} ({n_fall} falls, {len(trials) - n_fall} ADL, {subjects} subjects): "
              "falls found / ADL recordings clean, held out")  # fmt: skip
        for label, key, target in (
            ("CV within the set", f"cv {ds}", ">= 95/97 %"),
            (f"trained on {other} only", f"{other} -> {ds}", ">= 90/97 %"),
            ("CV both sets (shipped recipe)", f"cv both, {ds}", ""),
        ):
            for when, late in (("band, 2 s after", False), ("ingest, 4 s after", True)):
                value, rest = cells(key, late)
                row(f"{label}, {when}", value, target, rest)
        start = time.perf_counter()
        shipped = {v: shipped_scores(trials, v) for v in VARIANTS}
        rest = "  ".join(f"{names[v]} {r:.1%}/{c:.1%}" for v, (r, c, _) in shipped.items()
                         if v != "full")  # fmt: skip
        r, c, per_h = shipped["full"]
        row("shipped model, in-sample", f"{r:.1%}/{c:.1%}", "", f"{rest}; {per_h:.2f} alarms/h")
        row("run time, 5 variants", f"{time.perf_counter() - start:.1f} s")
