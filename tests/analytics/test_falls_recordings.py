"""The fall detector on real recordings of both fall sets (two labs, two devices), also
cut to 2 s after the impact and resampled as slower bands record, and on ADL that an
older wearer does every day. Recordings were picked from the bench, not tuned on."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from analytics.falls import RATE_HZ, confirm_fall, detect_falls, held_peak
from analytics.io import read_columns, sample_rate
from analytics.signal import resample

DATASETS = Path(
    os.environ.get("BANDHUB_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
needs_data = pytest.mark.skipif(
    not (DATASETS / "falls-weda").is_dir() or not (DATASETS / "falls-fallalld").is_dir(),
    reason="../shared/datasets/falls-weda and falls-fallalld not present",
)


def recording(dataset: str, name: str) -> tuple[np.ndarray, float, tuple[float, float] | None]:
    """Acceleration, rate and the labelled fall window (widened by 0.5 s) of a recording."""
    path = DATASETS / dataset / f"{name}.csv.gz"
    c = read_columns(path, ["t", "ax", "ay", "az"])
    with open(DATASETS / dataset / "labels.csv", newline="") as f:
        (row,) = [r for r in csv.DictReader(f) if r["recording"] == name]
    window = None
    if row["is_fall"] == "1":
        window = (float(row["fall_start_s"]) - 0.5, float(row["fall_end_s"]) + 0.5)
    return np.column_stack([c["ax"], c["ay"], c["az"]]), sample_rate(path, c["t"]), window


def impact(acc: np.ndarray, fs: float, window: tuple[float, float]) -> int:
    """Sample of the largest |a| inside the fall window."""
    lo, hi = int(window[0] * fs), int(window[1] * fs)
    return lo + int(np.argmax(np.linalg.norm(acc[lo:hi], axis=1)))


def found_in(events: list, window: tuple[float, float], offset: float = 0.0) -> bool:
    return any(window[0] <= e.t + offset <= window[1] for e in events)


FALLS = [  # picked from the bench with confidence above 0.85
    ("falls-weda", "F03_U01_R02"),
    ("falls-weda", "F04_U12_R01"),
    ("falls-fallalld", "S03_A113_T02"),
    ("falls-fallalld", "S15_A128_T04"),
    ("falls-fallalld", "S02_A123_T01"),
]

# Found by the shipped pair (the 8 Hz and the held-peak impact height, averaged), missed
# by the 8 Hz model alone (in-sample, both fitted on all trials: bench margins to the
# threshold -0.035 -> +0.061, -0.021 -> +0.043, -0.048 -> +0.054, -0.055 -> +0.046,
# -0.052 -> +0.044). FallAllD's impacts are one 50 Hz sample wide, which the 8 Hz
# low-pass reads low; the held peak reads them at their height.
FALLS_FOUND_WITH_THE_HELD_PEAK = [
    ("falls-weda", "F03_U05_R01"),
    ("falls-weda", "F06_U11_R01"),
    ("falls-fallalld", "S14_A101_T02"),
    ("falls-fallalld", "S15_A115_T01"),
    ("falls-fallalld", "S05_A104_T02"),
]


# Found by the trio (the two tree models and the CNN averaged), missed by the tree pair:
# bench margins to the threshold -0.110 -> +0.125, -0.110 -> +0.121, -0.106 -> +0.119,
# -0.131 -> +0.105. WEDA F05/F06: falls when sitting down or from a chair, the set's
# hardest; FallAllD's falls are soft.
FALLS_FOUND_WITH_THE_CNN = [
    ("falls-weda", "F06_U03_R01"),
    ("falls-weda", "F05_U02_R03"),
    ("falls-fallalld", "S15_A134_T02"),
    ("falls-fallalld", "S15_A108_T04"),
]

# Flagged by the tree pair, clean with the trio (margins +0.062 -> -0.079, +0.013 ->
# -0.145, +0.029 -> -0.049, +0.004 -> -0.132): WEDA D07 (stumble while walking), D08 (reach
# up with a small jump), FallAllD A009 (lying down, per its wrist turn) and A012.
ADL_CLEAN_WITH_THE_CNN = [
    ("falls-weda", "D07_U14_R02"),
    ("falls-weda", "D08_U02_R01"),
    ("falls-fallalld", "S06_A009_T04"),
    ("falls-fallalld", "S02_A012_T04"),
]


@needs_data
@pytest.mark.parametrize(
    ("dataset", "name"), FALLS + FALLS_FOUND_WITH_THE_HELD_PEAK + FALLS_FOUND_WITH_THE_CNN
)
def test_fall_found_in_its_window(dataset: str, name: str) -> None:
    acc, fs, window = recording(dataset, name)
    assert window is not None
    assert found_in(detect_falls(acc, fs), window)


@needs_data
def test_fall_found_with_2_s_before_and_after_the_impact() -> None:
    acc, fs, window = recording("falls-fallalld", "S15_A107_T01")  # bench: 0.92 cut
    i = impact(acc, fs, window)
    lo = i - int(2 * fs)
    events = detect_falls(acc[lo : i + int(2 * fs)], fs)
    assert any(abs(e.t - 2.0) <= 0.5 for e in events), events


@needs_data
def test_fall_found_at_20_hz_and_confirmed_on_a_band_window() -> None:
    acc, fs, window = recording("falls-fallalld", "S03_A105_T01")  # bench: 0.97 at 20 Hz
    assert found_in(detect_falls(resample(acc, fs, 20.0), 20.0), window)
    i = impact(acc, fs, window)
    band = acc[i - int(4 * fs) : i + int(2.5 * fs)]  # what ingest gets when the band cuts short
    assert confirm_fall(band, fs, int(4 * fs)).is_fall


@needs_data
@pytest.mark.parametrize("name", ["S13_A121_T02", "S06_A107_T03"])
def test_fall_confirmed_by_ingest_from_the_4_s_after_the_impact(name: str) -> None:
    """The band's window runs 4 s on after the impact, and ingest confirms with all of it:
    a fall whose first 2 s after the impact look unsure is confirmed once the wearer is
    seen lying still (bench: 0.30 and 0.51 from 2.5 s after, 0.97 and 0.96 from 4 s)."""
    acc, fs, window = recording("falls-fallalld", name)
    i = impact(acc, fs, window)
    band = acc[i - int(4 * fs) : i + int(4 * fs)]
    late = confirm_fall(band, fs, int(4 * fs))
    assert late.is_fall
    assert late.confidence > confirm_fall(band[: int(6.5 * fs)], fs, int(4 * fs)).confidence


# The 4-s confirmation with the CNN member's late net (-2 to +4 s, averaged with its ±2 s
# net where the late trees score), on the band's 4 s + 4 s window around the impact:
# confirmed now, not before it (bench, in-sample: 0.618 -> 0.758, 0.617 -> 0.737, 0.651 ->
# 0.758, 0.634 -> 0.774 against the late thresholds 0.652 -> 0.669). FallAllD A127 and
# A111, soft falls, are the ones it gains most on.
FALLS_CONFIRMED_WITH_THE_LATE_NET = [
    ("falls-fallalld", "S15_A127_T03"),
    ("falls-fallalld", "S02_A111_T01"),
    ("falls-fallalld", "S05_A132_T01"),
    ("falls-weda", "F06_U09_R03"),
]
# ADL confirmed before it and not now (0.658 -> 0.528, 0.659 -> 0.516).
ADL_CLEARED_BY_THE_LATE_NET = [
    ("falls-fallalld", "S06_A026_T03"),
    ("falls-fallalld", "S04_A039_T02"),
]


@needs_data
@pytest.mark.parametrize(
    ("dataset", "name"), FALLS_CONFIRMED_WITH_THE_LATE_NET + ADL_CLEARED_BY_THE_LATE_NET
)
def test_band_window_confirmed_with_the_late_net(dataset: str, name: str) -> None:
    acc, fs, window = recording(dataset, name)
    i = impact(acc, fs, window) if window else int(np.argmax(np.linalg.norm(acc, axis=1)))
    lo = max(0, i - int(4 * fs))
    assert confirm_fall(acc[lo : i + int(4 * fs)], fs, i - lo).is_fall == (window is not None)
    events = detect_falls(acc, fs)  # the whole recording: the same answer
    assert found_in(events, window) if window else events == []


# FallAllD's README does not name its ADL codes; A008/A009 are the ones whose wrist turns
# about 140 degrees and then stays still (lying down), A016 turns about 60 degrees and
# settles (sitting down). WEDA D04: sit on a chair and get up; D05: collapse into a chair.
ADL = [  # bench confidence at most 0.05
    ("falls-fallalld", "S02_A008_T01"),
    ("falls-fallalld", "S05_A009_T01"),
    ("falls-fallalld", "S13_A009_T01"),
    ("falls-fallalld", "S09_A016_T01"),
    ("falls-weda", "D04_U07_R01"),
    ("falls-weda", "D05_U11_R01"),
]


@needs_data
@pytest.mark.parametrize(("dataset", "name"), ADL + ADL_CLEAN_WITH_THE_CNN)
def test_everyday_movements_stay_clean(dataset: str, name: str) -> None:
    acc, fs, window = recording(dataset, name)
    assert window is None
    assert detect_falls(acc, fs) == []
    assert detect_falls(resample(acc, fs, 20.0), 20.0) == []


@needs_data
@pytest.mark.parametrize(("dataset", "name"), ADL)
def test_everyday_movements_are_not_confirmed_from_a_band_window(dataset: str, name: str) -> None:
    """The 4 s + 4 s window a band would send around the movement's hardest moment."""
    acc, fs, _ = recording(dataset, name)
    i = int(np.argmax(np.linalg.norm(acc, axis=1)))
    lo = max(0, i - int(4 * fs))
    assert not confirm_fall(acc[lo : i + int(4 * fs)], fs, i - lo).is_fall


@needs_data
def test_a_gentle_jump_stays_clean() -> None:
    """WEDA D08 (reach for a high object with a small jump): flagged by the 8 Hz model
    alone (margin +0.011), clean with the pair (-0.042)."""
    acc, fs, window = recording("falls-weda", "D08_U01_R01")
    assert window is None
    assert detect_falls(acc, fs) == []


def point_sampled(acc: np.ndarray, fs: float, new_fs: float, phase: float) -> np.ndarray:
    """A device sampling at ``new_fs`` without a filter, its first sample ``phase`` s in."""
    t = np.arange(acc.shape[0]) / fs
    t_new = np.arange(phase, t[-1], 1.0 / new_fs)
    return np.column_stack([np.interp(t_new, t, acc[:, k]) for k in range(3)])


@needs_data
@pytest.mark.parametrize(("new_fs", "share"), [(25.0, 0.6), (32.0, 0.9), (40.0, 0.9)])
def test_held_peak_reads_an_impact_alike_at_every_rate(new_fs: float, share: float) -> None:
    """The second model's impact height comes from a band-limited reconstruction, so the
    same real impact point-sampled at another rate and phase reads about the same height:
    no bias, and within 15 % for most (bench: 67 / 93 / 100 % at 25 / 32 / 40 Hz; the
    unfiltered reconstruction reads 12 % low at 25 Hz and is within 15 % for 60 / 63 / 70 %).
    A 25 Hz band's Nyquist is near the 12 Hz cutoff, so its reading still varies by phase."""
    ratios = []
    for dataset, name in FALLS + FALLS_FOUND_WITH_THE_HELD_PEAK:
        acc, fs, window = recording(dataset, name)
        i = round(impact(acc, fs, window) / fs * RATE_HZ)
        ref = held_peak(acc, fs, round(acc.shape[0] / fs * RATE_HZ))[i - 3 : i + 4].max()
        for phase in (0.0, 0.4 / new_fs, 0.8 / new_fs):
            other = point_sampled(acc, fs, new_fs, phase)
            held = held_peak(other, new_fs, round(other.shape[0] / new_fs * RATE_HZ))
            j = i - round(phase * RATE_HZ)
            ratios.append(held[j - 3 : j + 4].max() / ref)
    ratios = np.array(ratios)
    assert 0.9 <= np.median(ratios) <= 1.1, np.median(ratios)
    assert np.mean(np.abs(ratios - 1) <= 0.15) >= share, ratios
