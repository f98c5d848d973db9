"""``bandhub analyze``: the analytics on recorded files, one result per file.

Each kind reads the CSV columns documented in the README, runs the same
functions ingest uses, and prints a readable summary or one JSON object per line.
A file that cannot be analysed gets one line on stderr; the others still run, and
the exit code is 2 if any failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analytics.io import InputError, read_columns, read_text, require_duration, sample_rate

Analysis = Callable[[Path, float | None], dict]


def _falls(path: Path, fs: float | None) -> dict:
    from analytics.falls import detect_falls

    c = read_columns(path, ["t", "ax", "ay", "az"])
    rate = sample_rate(path, c["t"], fs)
    require_duration(path, c["t"], 2.0, "fall detection")
    acc = np.column_stack([c["ax"], c["ay"], c["az"]])
    events = detect_falls(acc, rate)
    return {"falls": [{"t": round(c["t"][0] + e.t, 2), "confidence": e.confidence} for e in events]}


def _steps(path: Path, fs: float | None) -> dict:
    from analytics.steps import count_steps

    try:
        c = read_columns(path, ["t", "ax", "ay", "az"])
        signal = np.column_stack([c["ax"], c["ay"], c["az"]])
    except InputError as exc:
        if "missing column" not in str(exc):
            raise
        c = read_columns(path, ["t", "mag"])
        signal = c["mag"]
    rate = sample_rate(path, c["t"], fs)
    require_duration(path, c["t"], 5.0, "step counting")
    r = count_steps(signal, rate)
    times = [round(c["t"][0] + s, 2) for s in r.step_times]
    return {"steps": r.steps, "cadence_spm": r.cadence_spm, "walking_s": r.walking_s,
            "step_times": times}  # fmt: skip


def _hr(path: Path, fs: float | None) -> dict:
    from analytics.heart_rate import heart_rate_windows

    c = read_columns(path, ["t"], ["ppg", "ppg1", "ppg2", "ax", "ay", "az"])
    channels = [c[k] for k in ("ppg", "ppg1", "ppg2") if k in c]
    if not channels:
        raise InputError(f"{path}: missing column(s) ppg (or ppg1[,ppg2])")
    rate = sample_rate(path, c["t"], fs)
    require_duration(path, c["t"], 8.0, "heart rate (one 8-s window)")
    acc = np.column_stack([c[k] for k in ("ax", "ay", "az")]) if "az" in c else None
    windows = heart_rate_windows(np.column_stack(channels), acc, rate)
    bpm = np.array([w.bpm for w in windows])
    return {
        "windows": [{"t_end": round(c["t"][0] + w.t_end, 1), "bpm": w.bpm} for w in windows],
        "min_bpm": float(bpm.min()), "mean_bpm": round(float(bpm.mean()), 1),
        "max_bpm": float(bpm.max()), "motion_compensated": acc is not None,
    }  # fmt: skip


def _read_rr(path: Path) -> np.ndarray | None:
    """RR intervals from a one-column file, or None when the file is a PPG recording."""
    lines = [ln.strip() for ln in read_text(path).splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{path}: empty file")
    if "," in lines[0]:
        return None
    try:
        float(lines[0])
        body = lines
    except ValueError:
        body = lines[1:]  # a header such as "rr_ms"
    values = []
    for n, ln in enumerate(body, start=len(lines) - len(body) + 1):
        try:
            values.append(float(ln))
        except ValueError:
            raise InputError(f"{path}: line {n}: not an RR interval in ms: {ln[:20]!r}") from None
    return np.asarray(values)


def _hrv(path: Path, fs: float | None) -> dict:
    from analytics.hrv import beats_from_ppg, hrv_from_rr

    rr = _read_rr(path)
    source = "rr"
    if rr is None:
        c = read_columns(path, ["t"], ["ppg", "ppg1"])
        ppg = c.get("ppg", c.get("ppg1"))
        if ppg is None:
            raise InputError(f"{path}: expected one RR interval (ms) per line, or t,ppg columns")
        rate = sample_rate(path, c["t"], fs)
        require_duration(path, c["t"], 30.0, "HRV from PPG")
        rr, source = beats_from_ppg(ppg, rate), "ppg"
    if rr.size < 10:
        raise InputError(f"{path}: too short for HRV: {rr.size} intervals, need at least 10")
    try:
        result = hrv_from_rr(rr).as_dict()
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    return {"source": source, **result}


def _sleep(path: Path, fs: float | None) -> dict:
    from analytics import sleep

    c = read_columns(path, ["t"], ["activity", "enmo", "hr"])
    has = {k: k in c and bool(np.isfinite(c[k]).any()) for k in ("activity", "enmo", "hr")}
    if not (has["activity"] or has["enmo"]):
        raise InputError(f"{path}: missing column(s) activity or enmo (with values)")
    epoch_s = 1.0 / sample_rate(path, c["t"], fs)
    if c["t"].size < 20:
        raise InputError(f"{path}: too short for sleep: {c['t'].size} epochs, need at least 20")
    scored = sleep.score_night({k: c[k] for k in ("activity", "enmo") if has[k]}, epoch_s)
    asleep = scored.asleep
    movement = c["enmo"] if has["enmo"] else c["activity"]
    stages = sleep.stages(asleep, c["hr"], movement) if has["hr"] else None
    s = sleep.summarize(c["t"], asleep, epoch_s)
    epochs = [
        {"t": float(t), "asleep": int(a), "source": str(scored.source[k])}
        | ({"bridged": True} if scored.filled[k] else {})
        | ({"stage": stages[k]} if stages else {})
        for k, (t, a) in enumerate(zip(c["t"], asleep, strict=True))
    ]
    used = [k for k in sleep.CHANNELS if (scored.source == k).any()]
    return {
        "input": "+".join(used) or "none", "epoch_s": epoch_s,
        "sources": {k: int((scored.source == k).sum()) for k in (*sleep.CHANNELS, "none")},
        "bridged_epochs": scored.bridged, "max_bridged_gap_min": sleep.MAX_BRIDGE_MIN,
        "segments": scored.segments(c["t"], epoch_s),
        "stages_from": "hr" if stages else None,
        "stages_are_estimates": stages is not None,
        "main_sleep": {"onset_s": s.sleep_onset_s, "end_s": s.sleep_end_s},
        "total_sleep_min": s.total_sleep_min, "efficiency": s.efficiency,
        "latency_min": s.latency_min, "waso_min": s.waso_min, "awakenings": s.awakenings,
        "epochs": epochs,
    }  # fmt: skip


ANALYSES: dict[str, Analysis] = {
    "falls": _falls, "steps": _steps, "hr": _hr, "hrv": _hrv, "sleep": _sleep,
}  # fmt: skip


def _summary(kind: str, path: Path, r: dict) -> str:
    if kind == "falls":
        found = ", ".join(f"t={f['t']} s (confidence {f['confidence']:.2f})" for f in r["falls"])
        return f"{path}: {len(r['falls'])} fall(s)" + (f": {found}" if found else "")
    if kind == "steps":
        cadence = f", cadence {r['cadence_spm']} steps/min" if r["cadence_spm"] else ""
        return f"{path}: {r['steps']} steps{cadence}, walking {r['walking_s']} s"
    if kind == "hr":
        return (f"{path}: {len(r['windows'])} windows, heart rate min {r['min_bpm']} / "
                f"mean {r['mean_bpm']} / max {r['max_bpm']} bpm")  # fmt: skip
    if kind == "hrv":
        freq = (f", LF {r['lf_ms2']} ms², HF {r['hf_ms2']} ms², LF/HF {r['lf_hf']}"
                if r["lf_ms2"] is not None else " (under 2 min: no frequency domain)")  # fmt: skip
        return (f"{path}: mean NN {r['mean_nn_ms']} ms, SDNN {r['sdnn_ms']} ms, RMSSD "
                f"{r['rmssd_ms']} ms, pNN50 {r['pnn50_pct']} %{freq}; removed "
                f"{r['n_artefacts']} artefact(s), {r['n_ectopic']} ectopic")  # fmt: skip
    eff = f"{r['efficiency']:.0%}" if r["efficiency"] is not None else "n/a"
    return (f"{path}: asleep {r['total_sleep_min']} min, efficiency {eff}, latency "
            f"{r['latency_min']} min, WASO {r['waso_min']} min, {r['awakenings']} "
            f"awakening(s) (from {_sources(r)})")  # fmt: skip


def _sources(r: dict) -> str:
    """Which channel scored how many epochs, and how many gap epochs were bridged."""
    parts = [f"{k} {n} epochs" for k, n in r["sources"].items() if n]
    bridged = [f"{n} {k}" for k, n in r["bridged_epochs"].items() if n]
    note = f"; bridged {', '.join(bridged)} missing epoch(s)" if bridged else ""
    return ", ".join(parts) + note


def run_analyze(kind: str, files: list[Path], fs: float | None, as_json: bool) -> int:
    analysis = ANALYSES.get(kind)
    if analysis is None:
        print(f"bandhub analyze: unknown kind {kind!r}; use one of {', '.join(ANALYSES)}",
              file=sys.stderr)  # fmt: skip
        return 2
    failed = 0
    for path in files:
        try:
            result = analysis(Path(path), fs)
        except InputError as exc:
            print(f"bandhub analyze: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if as_json:
            print(json.dumps({"file": str(path), **result}))
        else:
            print(_summary(kind, Path(path), result))
        sys.stdout.flush()
    return 2 if failed else 0
