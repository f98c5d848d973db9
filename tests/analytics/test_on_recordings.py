"""Regression on a few real recordings of ../shared/datasets (thresholds from the bench,
with margin) and the command-line contract of ``bandhub analyze``."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics.io import read_columns

DATASETS = Path(
    os.environ.get("BANDHUB_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
needs_data = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets not present")
BANDHUB = [sys.executable, "-c", "from stack.cli import app; app()"]


def analyze(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BANDHUB, "analyze", *map(str, args)], capture_output=True, text=True, timeout=120
    )


@needs_data
def test_falls_found_in_fall_recordings_and_not_in_clapping() -> None:
    d = DATASETS / "falls-weda"
    files = [d / f"F0{k}_U03_R01.csv.gz" for k in (1, 2, 4)] + [d / "D10_U03_R01.csv.gz"]
    out = analyze("falls", *files, "--json")
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [Path(r["file"]).name for r in results] == [f.name for f in files]
    assert all(r["falls"] for r in results[:3])
    assert results[3]["falls"] == []


@needs_data
def test_heart_rate_on_a_treadmill_run_is_within_3_bpm() -> None:
    rec = DATASETS / "hr-spc2015-train" / "DATA_03_TYPE02"
    out = analyze("hr", f"{rec}.csv.gz", "--json")
    assert out.returncode == 0, out.stderr
    est = np.array([w["bpm"] for w in json.loads(out.stdout)["windows"]])
    ref = read_columns(f"{rec}_bpm.csv", ["t_end", "bpm"])["bpm"]
    assert est.size == ref.size
    assert np.mean(np.abs(est - ref)) < 3.0


def _sleep_truth(night: Path) -> np.ndarray:
    return read_columns(f"{night}_labels.csv", ["t"], ["asleep"])["asleep"]


def _write_night(path: Path, t: np.ndarray, **columns: np.ndarray) -> Path:
    """A sleep file with the given columns; NaN becomes an empty cell."""
    names = list(columns)
    lines = [",".join(["t", *names])]
    for k, tk in enumerate(t):
        cells = ["" if np.isnan(columns[n][k]) else f"{columns[n][k]:.6f}" for n in names]
        lines.append(",".join([f"{tk:g}", *cells]))
    return _write_gz(path, "\n".join(lines) + "\n")


def _scored(result: dict, truth: np.ndarray) -> tuple[float, float, np.ndarray]:
    pred = np.array([e["asleep"] for e in result["epochs"]], dtype=bool)
    ok = ~np.isnan(truth)
    y = truth[ok].astype(bool)
    return float((pred[ok] == y).mean()), float((~pred[ok][~y]).mean()), pred


@needs_data
def test_sleep_from_enmo_meets_accuracy_and_wake_specificity(tmp_path: Path) -> None:
    night = DATASETS / "sleep-qut" / "p11_n02"
    c = read_columns(f"{night}.csv.gz", ["t"], ["enmo"])
    out = analyze("sleep", _write_night(tmp_path / "enmo.csv.gz", c["t"], enmo=c["enmo"]), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    acc, spec, _ = _scored(result, _sleep_truth(night))
    assert acc > 0.88 and spec > 0.55  # bench: 0.94 / 0.65 on this night
    assert result["input"] == "enmo" and result["total_sleep_min"] > 300


@needs_data
@pytest.mark.parametrize(("gain", "offset_g"), [(0.4, 0.0), (0.4, 0.004), (2.5, 0.002)])
def test_quiet_sleep_on_another_device_is_not_scored_wake(
    tmp_path: Path, gain: float, offset_g: float
) -> None:
    """p04_n02 through another device's gain and noise floor: a threshold on absolute
    ENMO scores most of the night wake (or sleep); the calibrated model barely moves."""
    night = DATASETS / "sleep-qut" / "p04_n02"
    c = read_columns(f"{night}.csv.gz", ["t"], ["enmo"])
    enmo = c["enmo"] * gain + offset_g
    out = analyze("sleep", _write_night(tmp_path / "dev.csv.gz", c["t"], enmo=enmo), "--json")
    assert out.returncode == 0, out.stderr
    acc, spec, pred = _scored(json.loads(out.stdout), _sleep_truth(night))
    assert acc >= 0.88 and spec >= 0.6  # bench: 0.94 / 0.99 at any gain and offset
    missed = (_sleep_truth(night) == 1) & ~pred  # sleep scored wake
    edges = np.flatnonzero(np.diff(np.r_[0, missed.astype(np.int8), 0]))
    longest = max((edges[1::2] - edges[::2]).tolist(), default=0)
    assert longest * 15 <= 10 * 60  # no long stretch of quiet sleep called wake


@needs_data
def test_night_with_activity_gaps_at_the_start_is_scored_from_activity(tmp_path: Path) -> None:
    """p03_n01's activity misses its first 3 epochs and last 10; short gaps are bridged
    and the night is scored from activity, and the output says so."""
    night = DATASETS / "sleep-qut" / "p03_n01"
    c = read_columns(f"{night}.csv.gz", ["t"], ["activity", "enmo"])
    activity = c["activity"].copy()
    activity[:12] = np.nan  # 3 minutes missing at the start: bridged
    path = _write_night(tmp_path / "gaps.csv.gz", c["t"], activity=activity, enmo=c["enmo"])
    out = analyze("sleep", path, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["input"] == "activity" and result["sources"]["activity"] == c["t"].size
    assert result["bridged_epochs"]["activity"] == 12 + 10
    assert all(e["source"] == "activity" and e.get("bridged") for e in result["epochs"][:12])
    acc, spec, _ = _scored(result, _sleep_truth(night))
    assert acc >= 0.9 and spec >= 0.9  # bench: 0.94 / 0.95 (p03, leave-one-out)
    activity[200:300] = np.nan  # 25 minutes missing: too long to bridge, ENMO covers it
    path = _write_night(tmp_path / "long.csv.gz", c["t"], activity=activity, enmo=c["enmo"])
    result = json.loads(analyze("sleep", path, "--json").stdout)
    assert {e["source"] for e in result["epochs"][200:300]} == {"enmo"}
    assert [s["source"] for s in result["segments"]] == ["activity", "enmo", "activity"]
    assert "from activity" in analyze("sleep", path).stdout


@needs_data
@pytest.mark.parametrize(
    ("recording", "true_steps", "tolerance"),
    [  # bench: 102, 149, 50 and (12.5 Hz, |x|+|y|+|z|) 189 counted
        ("l2-25hz-bw4_normal-walking1", 99, 0.08),
        ("l2-25hz-bw4_fast-walking2", 160, 0.1),
        ("l2-25hz-bw4_slow-walking3", 46, 0.15),
        ("l1-12hz-bw2_normal-walking-bf", 186, 0.08),
    ],
)
def test_steps_on_walks_at_each_pace(recording: str, true_steps: int, tolerance: float) -> None:
    out = analyze("steps", DATASETS / "steps-rieck" / f"{recording}.csv.gz", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["steps"] == pytest.approx(true_steps, rel=tolerance)


@needs_data
def test_a_quiet_stretch_right_after_a_swinging_one_still_counts() -> None:
    """normal-walking4 walks 53 s with a swinging arm, then 19 s with small, even steps
    (0.15 g, no swing). The swing pass finds the first stretch, the quiet pass the second;
    they do not overlap, so both count. The merge used to treat bouts under 2 s apart as
    one and keep only the pass that counted more (79 of 101 steps)."""
    path = DATASETS / "steps-rieck" / "l2-25hz-bw4_normal-walking4.csv.gz"
    out = analyze("steps", path, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["steps"] == pytest.approx(101, rel=0.1)


@needs_data
def test_a_quiet_chain_off_a_swinging_walks_pace_does_not_add_steps() -> None:
    """slow-walking-sh swings its arm at 0.8-1.04 s per step (112 steps). The quiet pass,
    bridging a missed heel strike, also made a chain at 0.80 s over a swing bout at 1.04 s
    and one at 0.64 s between two at 0.80 s; the first out-counted the swing bout and the
    second was added: 138 steps. Next to a loud swing bout, a quiet chain at another pace
    is not the walk's rhythm and is dropped (bench: 127)."""
    path = DATASETS / "steps-rieck" / "l1-12hz-bw2_slow-walking-sh.csv.gz"
    out = analyze("steps", path, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["steps"] == pytest.approx(112, rel=0.15)


@needs_data
def test_no_steps_while_tying_shoe_laces_or_dressing() -> None:
    files = [
        DATASETS / "steps-rieck" / f"l2-25hz-bw4_{n}1.csv.gz" for n in ("shoe-laces", "dressing")
    ]
    out = analyze("steps", *files, "--json")
    assert out.returncode == 0, out.stderr
    counts = [json.loads(line)["steps"] for line in out.stdout.splitlines()]
    assert len(counts) == 2 and max(counts) <= 10  # about 74 s each; bench: 0 and 0


@needs_data
def test_no_steps_while_typing_at_a_pc() -> None:
    """Typing and mouse work make quiet peaks at a walking rhythm; each has its own shape,
    where heel strikes repeat one (bench: 0 and 0; before the shape check 21 and 10)."""
    files = [
        DATASETS / "steps-rieck" / f"{n}.csv.gz"
        for n in ("l2-12hz-bw2_pc-working1", "l2-25hz-bw4_pc-working3")
    ]
    out = analyze("steps", *files, "--json")
    assert out.returncode == 0, out.stderr
    counts = [json.loads(line)["steps"] for line in out.stdout.splitlines()]
    assert len(counts) == 2 and max(counts) <= 5  # about 75 and 130 s


@needs_data
@pytest.mark.parametrize(
    ("recording", "held", "seed"),
    [  # bench: 94 of 99 and 143 of 152 (without the quiet pass: 75 and 8)
        ("l2-25hz-bw4_normal-walking1", "held steady", 0),
        ("l2-25hz-bw4_fast-walking3", "pocket", 0),
        # the bench's noise draw for this walk: 174 of 186, and 114 when the arm-work veto
        # dropped its 79-step quiet chain whole instead of only its failing blocks
        ("l1-12hz-bw2_normal-walking-bf", "pocket", 2),
        # a slow walk held steady: 90 of 93 once the quiet pass fills a missed heel strike
        # where the rhythm on both sides agrees (66 before: its chains broke at each one)
        ("l2-12hz-bw2_slow-walking-bf", "held steady", 0),
    ],
)
def test_a_walk_without_arm_swing_is_counted(
    tmp_path: Path, recording: str, held: str, seed: int
) -> None:
    """A real walk with its arm swing removed and its amplitude cut to a still hand's or a
    pocket's (bench/steps_eval.py): the same steps, counted within 10 % and never zero."""
    from bench.steps_eval import SCALES, Walk, without_swing

    path = DATASETS / "steps-rieck" / f"{recording}.csv.gz"
    c = read_columns(path, ["t", "mag"])
    with open(DATASETS / "steps-rieck" / "labels.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["recording"] == recording)
    fs = 1.0 / float(np.median(np.diff(c["t"])))
    walk = Walk(recording, row, c["mag"], fs, int(row["true_steps"]), "swinging")
    mag = without_swing(walk, SCALES[held], seed)
    lines = "\n".join(f"{t:.3f},{m:.5f}" for t, m in zip(c["t"], mag, strict=True))
    out = analyze("steps", _write_gz(tmp_path / "still-arm.csv.gz", "t,mag\n" + lines), "--json")
    assert out.returncode == 0, out.stderr
    steps = json.loads(out.stdout)["steps"]
    assert steps > 0
    assert steps == pytest.approx(walk.true_steps, rel=0.1)


@needs_data
def test_a_slow_walk_in_a_pocket_is_counted() -> None:
    """A slow walk (0.75 steps/s) without a swing, in a pocket, over five noise draws: its
    count swings with the noise, but on average within a quarter of the truth and never
    zero (bench: 61-91 of 98, mean 75; before missed steps were filled in 59-74, mean 68)."""
    from analytics.steps import count_steps
    from bench.steps_eval import SCALES, Walk, without_swing

    recording = "l1-12hz-bw2_slow-walking-bf"
    path = DATASETS / "steps-rieck" / f"{recording}.csv.gz"
    c = read_columns(path, ["t", "mag"])
    with open(DATASETS / "steps-rieck" / "labels.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["recording"] == recording)
    fs = 1.0 / float(np.median(np.diff(c["t"])))
    walk = Walk(recording, row, c["mag"], fs, int(row["true_steps"]), "swinging")
    counts = [
        count_steps(without_swing(walk, SCALES["pocket"], seed), fs).steps for seed in range(5)
    ]
    assert min(counts) > 0
    assert np.mean(counts) == pytest.approx(walk.true_steps, rel=0.25)


def test_hrv_from_an_rr_file(tmp_path: Path) -> None:
    rr = 850 + 30 * np.sin(np.arange(400) * 0.5)
    path = tmp_path / "rr.txt"
    path.write_text("rr_ms\n" + "\n".join(f"{v:.1f}" for v in rr) + "\n")
    out = analyze("hrv", path)
    assert out.returncode == 0, out.stderr
    assert "mean NN 850" in out.stdout and "RMSSD" in out.stdout and "LF/HF" in out.stdout


def _write_gz(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode()))
    return path


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("falls", "t,ax,ay\n0,0,0\n", "missing column(s) az"),
        ("steps", "t,mag\n0,1\n0.04,abc\n", "line 3: column 'mag' is not a number"),
        ("steps", "t,mag\n0,1\n0.04,1\n0.04,1\n" + "0.1,1\n" * 200, "not increasing"),
        ("hr", "t,ppg1\n0,1\n0.008,2\n", "too short"),
        ("sleep", "", "empty file"),
    ],
)  # fmt: skip
def test_bad_files_get_one_line_and_exit_2(
    tmp_path: Path, kind: str, content: str, message: str
) -> None:
    out = analyze(kind, _write_gz(tmp_path / "bad.csv.gz", content))
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_good_files_still_analysed_when_one_is_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("\n".join(str(850 + (i % 3) * 10) for i in range(50)))
    out = analyze("hrv", tmp_path / "missing.csv", good, "--json")
    assert out.returncode == 2
    assert "no such file" in out.stderr
    assert json.loads(out.stdout)["file"] == str(good)


def test_unknown_kind() -> None:
    out = analyze("naps", "x.csv")
    assert out.returncode == 2 and "unknown kind 'naps'" in out.stderr
