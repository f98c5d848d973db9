"""Where the labelled recordings are and how to read their label files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

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
