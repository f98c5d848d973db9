"""Where the labelled recordings are and how to read their label files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

ROOT = Path(
    os.environ.get(
        "BANDHUB_DATASETS", Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    )
)


def folder(name: str) -> Path:
    path = ROOT / name
    if not path.is_dir():
        raise SystemExit(f"dataset folder not found: {path} (set BANDHUB_DATASETS)")
    return path


def labels(name: str) -> list[dict[str, str]]:
    with open(folder(name) / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


FALL_SETS = ("falls-weda", "falls-fallalld")  # same layout: <recording>.csv.gz, t,ax,ay,az in g


def fall_recording(name: str, recording: str) -> tuple[np.ndarray, float]:
    """(n, 3) acceleration in g and the sample rate of one recording of a fall set."""
    from analytics.io import read_columns, sample_rate

    path = folder(name) / f"{recording}.csv.gz"
    c = read_columns(path, ["t", "ax", "ay", "az"])
    return np.column_stack([c["ax"], c["ay"], c["az"]]), sample_rate(path, c["t"])
