"""Accuracy and speed of analytics/ on the labelled recordings, next to the targets
and to established open-source implementations, in one run.

    pip install -e '.[bench]'      # neurokit2, heartpy (baselines only)
    python bench/accuracy.py       # about four minutes (ten on the loaded shared machine)

Fitted parameters were chosen by subject-wise cross-validation (bench/fit_*.py);
the CV figures they recorded are printed next to the shipped model's in-sample
figures, because the shipped model has seen every recording.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import sleep
from analytics.heart_rate import heart_rate_windows
from analytics.hrv import clean_rr, time_domain
from analytics.io import read_columns, sample_rate
from analytics.params import load
from analytics.steps import activity_per_epoch, count_steps
from bench.datasets import folder, labels

warnings.filterwarnings("ignore")


def row(name: str, value: str, target: str = "", note: str = "") -> None:
    print(f"  {name:<50} {value:>14}  {target:<12} {note}")


def optional(module: str):
    try:
        return __import__(module)
    except ImportError:
        return None


def falls() -> None:
    """Both fall sets, as recorded, cut short and resampled (rows in bench/falls_eval.py)."""
    from bench.falls_eval import print_bench

    print_bench(row)


def heart_rate() -> None:
    print("\nhr-spc2015-train (13 recordings; TROIKA 2.34 bpm on the 12 training ones)")
    nk, hp = optional("neurokit2"), optional("heartpy")
    errs: dict[str, list[np.ndarray]] = {"bandhub": [], "neurokit2": [], "heartpy": []}
    times = dict.fromkeys(errs, 0.0)
    for r in labels("hr-spc2015-train"):
        base = folder("hr-spc2015-train") / r["recording"]
        c = read_columns(f"{base}.csv.gz", ["t", "ppg1", "ppg2", "ax", "ay", "az"])
        ref = read_columns(f"{base}_bpm.csv", ["t_end", "bpm"])["bpm"]
        fs = 125.0
        t0 = time.perf_counter()
        ours = np.array(
            [
                w.bpm
                for w in heart_rate_windows(
                    np.column_stack([c["ppg1"], c["ppg2"]]),
                    np.column_stack([c["ax"], c["ay"], c["az"]]),
                    fs,
                )
            ]
        )
        times["bandhub"] += time.perf_counter() - t0
        errs["bandhub"].append(np.abs(ours[: ref.size] - ref[: ours.size]))
        starts = (np.arange(ref.size) * 2 * fs).astype(int)
        if nk is not None:
            t0 = time.perf_counter()
            try:
                signals, _ = nk.ppg_process(c["ppg1"], sampling_rate=int(fs))
                rate = signals["PPG_Rate"].to_numpy()
                est = np.array([rate[s : s + int(8 * fs)].mean() for s in starts])
            except Exception:
                est = np.full(ref.size, np.nan)
            times["neurokit2"] += time.perf_counter() - t0
            errs["neurokit2"].append(np.abs(est - ref))
        if hp is not None:
            t0 = time.perf_counter()
            est = []
            for s in starts:
                try:
                    seg = hp.filter_signal(
                        c["ppg1"][s : s + int(8 * fs)], [0.7, 3.5], fs, filtertype="bandpass"
                    )
                    _, m = hp.process(seg, fs)
                    est.append(m["bpm"])
                except Exception:
                    est.append(np.nan)
            times["heartpy"] += time.perf_counter() - t0
            errs["heartpy"].append(np.abs(np.array(est) - ref))
    cv = load("heart_rate")["cv"]["mae_bpm"]
    for name, e in errs.items():
        if not e:
            row(f"{name}: not installed (pip install -e '.[bench]')", "")
            continue
        all_e, train = np.concatenate(e), np.concatenate(e[:12])
        failed = np.isnan(all_e).mean()
        note = f"12 training: {np.nanmean(train):.2f}; {times[name]:.1f} s"
        if name == "bandhub":
            note += f"; CV {cv:.2f}"
        if failed:
            note += f"; {failed:.0%} windows failed"
        target = "<= 3.0 bpm" if name == "bandhub" else ""
        row(f"{name}: MAE over all 1,875 windows", f"{np.nanmean(all_e):.2f} bpm", target, note)


def steps() -> None:
    print("\nsteps-rieck (60 recordings, one wearer)")
    errs, excess, worst = [], [], 0.0
    for r in labels("steps-rieck"):
        path = folder("steps-rieck") / f"{r['recording']}.csv.gz"
        c = read_columns(path, ["t", "mag"])
        n = count_steps(c["mag"], sample_rate(path, c["t"])).steps
        true = int(r["true_steps"])
        if r["activity"].endswith("walking"):
            errs.append(abs(n - true) / true)
        else:
            share = max(0, n - true) / float(r["duration_s"])
            excess.append(share)
            worst = max(worst, share)
    cv = load("steps")["cv"]
    row(
        "walking: mean |count error|",
        f"{np.mean(errs):.1%}",
        "<= 5 %",
        f"CV {cv['walking_error']:.1%}",
    )
    row(
        "non-walking: excess steps, % of duration (mean)",
        f"{np.mean(excess):.1%}",
        "<= 5 %",
        f"worst {worst:.1%}; CV {cv['non_walking_steps_per_s']:.1%}",
    )
    steps_without_swing()
    row("no installable reference step counter", "", "", "(Oxford stepcount needs torch)")


def steps_without_swing() -> None:
    """Swinging walks as recorded next to the same walks without the arm swing
    (bench/steps_eval.py says how they are built)."""
    from bench import steps_eval

    recorded = steps_eval.load_recorded()
    swinging = [w for w in recorded if w.kind == "swinging"]
    quiet = steps_eval.non_swinging(recorded)
    cv = load("steps")["cv"].get("non_swinging_error")
    groups = [("swinging (as recorded)", swinging, "<= 5 %")]
    groups += [(f"non-swinging, {k}", [w for w in quiet if w.kind == k], "<= 10 %")
               for k in steps_eval.SCALES]  # fmt: skip
    zero_walks = 0
    for name, walks, target in groups:
        mean, worst, zeros, _ = steps_eval.count_error(walks, min_steps=60)
        zero_walks += zeros
        row(f"{name}: mean |count error|", f"{mean:.1%}", target,
            f"worst {worst:.0%}; walks of >= 60 steps counted zero: {zeros}")  # fmt: skip
    long_walks = sum(w.true_steps >= 60 for _, ws, _ in groups for w in ws)
    row("walks of >= 60 steps counted zero (all above)", f"{zero_walks} of {long_walks}", "0")
    if cv is not None:
        row("non-swinging: mean |count error|, CV", f"{cv:.1%}", "<= 10 %", "leave-one-set-out")


def sleep_scoring() -> None:
    print("\nsleep-qut (18 nights, 9 participants; label = Actiware scoring of `activity`)")
    scorers = {
        "bandhub, every channel (gaps bridged)": lambda c: (
            sleep.score_night({"activity": c["activity"], "enmo": c["enmo"]}, 15.0).asleep
        ),
        "bandhub, enmo only": lambda c: sleep.score_bandhub(c["enmo"], 15.0, "enmo"),
        "bandhub, activity counts": lambda c: sleep.score_bandhub(c["activity"], 15.0, "counts"),
        "Cole-Kripke, activity counts": lambda c: sleep.score_cole_kripke(c["activity"], 15.0),
        "Cole-Kripke, activity counts / 10 (its scale)": lambda c: sleep.score_cole_kripke(
            c["activity"] / 10, 15.0
        ),
        "Sadeh, activity counts": lambda c: sleep.score_sadeh(c["activity"], 15.0),
        "Cole-Kripke, enmo (milli-g as counts)": lambda c: sleep.score_cole_kripke(
            c["enmo"] * 1000, 15.0
        ),
        "Sadeh, enmo (milli-g as counts)": lambda c: sleep.score_sadeh(c["enmo"] * 1000, 15.0),
        "everything asleep": lambda c: np.ones(c["t"].size, bool),
    }
    nights = []
    for r in labels("sleep-qut"):
        base = folder("sleep-qut") / r["recording"]
        c = read_columns(f"{base}.csv.gz", ["t"], ["activity", "enmo"])
        lab = read_columns(f"{base}_labels.csv", ["t"], ["asleep"])["asleep"]
        nights.append((c, lab))
    cv = load("sleep")
    for name, score in scorers.items():
        hit = total = wake_ok = wake = 0
        t0 = time.perf_counter()
        for c, lab in nights:
            pred = score(c)
            ok = ~np.isnan(lab)
            y, p = lab[ok].astype(bool), pred[ok]
            hit += int((p == y).sum())
            total += y.size
            wake_ok += int((~p[~y]).sum())
            wake += int((~y).sum())
        ms = (time.perf_counter() - t0) / len(nights) * 1000
        note = f"{ms:.1f} ms/night"
        if name.startswith("bandhub") and "every" not in name:
            k = "enmo" if "enmo" in name else "counts"
            note += f"; CV {cv[k]['cv']['accuracy']:.1%} / {cv[k]['cv']['specificity']:.1%}"
        target = ">= 88 % / 60 %" if name.startswith("bandhub") else ""
        row(
            f"{name}: accuracy / wake specificity",
            f"{hit / total:.1%} / {wake_ok / wake:.1%}",
            target,
            note,
        )
    sleep_per_participant()


def sleep_per_participant() -> None:
    """Every participant, leave-one-participant-out, and the nights with activity gaps."""
    from bench import sleep_eval

    print("  -- per participant, leave-one-participant-out (bench/sleep_eval.py)")
    nights = sleep_eval.load_nights()
    for r in sleep_eval.participant_rows(nights) + sleep_eval.gap_rows(nights):
        row(*r)


def hrv() -> None:
    print("\nHRV time domain vs neurokit2 on the same NN series (ECG R-peaks of hr-spc2015-train)")
    nk = optional("neurokit2")
    if nk is None:
        row("neurokit2 not installed (pip install -e '.[bench]')", "")
        return
    worst = dict.fromkeys(("MeanNN", "SDNN", "RMSSD", "pNN50"), 0.0)
    for r in labels("hr-spc2015-train"):
        c = read_columns(folder("hr-spc2015-train") / f"{r['recording']}.csv.gz", ["t", "ecg"])
        _, info = nk.ecg_peaks(nk.ecg_clean(c["ecg"], sampling_rate=125), sampling_rate=125)
        rr = np.diff(info["ECG_R_Peaks"]) / 125 * 1000
        nn, times, _, _ = clean_rr(rr)
        theirs = nk.hrv_time({"RRI": nn, "RRI_Time": times}, sampling_rate=1000)
        for k, v in zip(worst, time_domain(nn, times), strict=True):
            ref = float(theirs[f"HRV_{k}"].iloc[0])
            worst[k] = max(worst[k], abs(v - ref) / abs(ref) if ref else abs(v))
    for k, v in worst.items():
        row(f"{k}: worst relative difference over 13", f"{v:.3%}", "<= 1 %")


def speed() -> None:
    print("\nspeed (one core)")
    rng = np.random.default_rng(0)
    n = 50 * 86_400
    t = np.arange(n) / 50
    acc = np.column_stack(
        [
            0.05 * rng.normal(size=n),
            0.05 * rng.normal(size=n),
            1 + 0.3 * np.sin(2 * np.pi * 1.8 * t) * (np.sin(2 * np.pi * t / 3600) > 0.5),
        ]
    )
    t0 = time.perf_counter()
    count_steps(acc, 50.0)
    activity_per_epoch(acc, 50.0)
    row("a day of 50 Hz 3-axis: steps + activity", f"{time.perf_counter() - t0:.2f} s", "< 2 s")
    night = np.abs(rng.normal(0.01, 0.02, size=2000))
    t0 = time.perf_counter()
    for _ in range(20):
        asleep = sleep.score_bandhub(night, 15.0, "enmo")
        sleep.summarize(np.arange(2000) * 15.0, asleep, 15.0)
    row(
        "a night of 15-s epochs: sleep + summary",
        f"{(time.perf_counter() - t0) / 20 * 1000:.1f} ms",
        "< 50 ms",
    )


def main() -> None:
    print(f"{'':2}{'metric':<44} {'value':>14}  {'target':<14} note")
    for section in (falls, heart_rate, steps, sleep_scoring, hrv, speed):
        section()


if __name__ == "__main__":
    main()
